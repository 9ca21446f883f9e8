import { formatZodIssues, SweepSpecSchema } from './sweep.schema';

const ok = { baseModel: 'sotu-gpt2-small', dataset: 'moby-dick', variants: ['lora'] };

function fields(body: unknown): string[] {
  const r = SweepSpecSchema.safeParse(body);
  if (r.success) return [];
  return formatZodIssues(r.error).map((e) => e.field);
}

describe('SweepSpecSchema', () => {
  it('fills defaults and accepts scalar shorthand on axes', () => {
    const spec = SweepSpecSchema.parse({ ...ok, searchSpace: { r: 4, lr: [1e-3, 3e-3] } });
    expect(spec.searchSpace.r).toEqual([4]);
    expect(spec.searchSpace.lr).toEqual([1e-3, 3e-3]);
    expect(spec.searchSpace.targetModules).toEqual([['c_attn']]);
    expect(spec.training.steps).toBe(100);
    expect(spec.task).toBe('causal-lm');
  });
  it('names missing required fields', () => {
    expect(fields({ dataset: 'moby-dick', variants: ['lora'] })).toEqual(['baseModel']);
    expect(fields({ baseModel: 'x', variants: ['lora'] })).toEqual(['dataset']);
    expect(fields({ baseModel: 'x', dataset: 'y' })).toEqual(['variants']);
  });
  it('names the bad element of an axis', () => {
    expect(fields({ ...ok, searchSpace: { r: [8, 0] } })).toEqual(['searchSpace.r.1']);
    expect(fields({ ...ok, searchSpace: { r: -2 } })).toEqual(['searchSpace.r.0']);
    expect(fields({ ...ok, searchSpace: { r: 2.5 } })).toEqual(['searchSpace.r.0']);
  });
  it('rejects unknown and unavailable variants with the list of valid ones', () => {
    const r = SweepSpecSchema.safeParse({ ...ok, variants: ['lora', 'qlora-x'] });
    expect(r.success).toBe(false);
    const errs = formatZodIssues((r as unknown as { error: never }).error);
    expect(errs[0].field).toBe('variants.1');
    expect(errs[0].message).toMatch(/unknown variant "qlora-x"/);
  });
  it('names unknown fields', () => {
    expect(fields({ ...ok, rank: 8 })).toEqual(['rank']);
    expect(fields({ ...ok, training: { stepz: 3 } })).toEqual(['training.stepz']);
  });
  it('checks cross-field rules', () => {
    expect(fields({ ...ok, training: { steps: 10, warmupSteps: 10 } })).toEqual(['training.warmupSteps']);
  });
});

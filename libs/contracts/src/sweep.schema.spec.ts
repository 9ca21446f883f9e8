import { z } from 'zod';
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
  it('refuses text Postgres cannot store (control characters, lone surrogates)', () => {
    expect(fields({ ...ok, name: 'a\u0000b' })).toEqual(['name']);
    expect(fields({ ...ok, baseModel: 'x\ud800' })).toEqual(['baseModel']);
    expect(fields({ ...ok, dataset: 'moby\ndick' })).toEqual(['dataset']);
    expect(fields({ ...ok, name: 'emoji 🙂 and 漢字 are fine' })).toEqual([]);
  });
  it('says "is required" only for a missing value, and the type otherwise', () => {
    expect(errors({ ...ok, variants: undefined })[0].message).toMatch(/is required/);
    expect(errors({ ...ok, variants: 'lora' })[0].message).toMatch(/expected array, received string/);
    expect(errors({ ...ok, baseModel: 5 })[0].message).toMatch(/expected string, received number/);
  });
  it('reports issues of a value under the prefix it is given', () => {
    const r = SweepSpecSchema.shape.name.safeParse(5);
    expect(formatZodIssues(r.error!, ['id'])[0].field).toBe('id');
  });
  it('checks cross-field rules', () => {
    expect(fields({ ...ok, training: { steps: 10, warmupSteps: 10 } })).toEqual(['training.warmupSteps']);
  });
});

function errors(body: unknown): Array<{ field: string; message: string }> {
  const r = SweepSpecSchema.safeParse(body);
  return r.success ? [] : formatZodIssues(r.error);
}

describe('search (grid | random) and distributions', () => {
  const random = (searchSpace: object, search: object = {}) => ({ ...ok, search: { method: 'random', trials: 8, ...search }, searchSpace });

  it('defaults to a grid with seed 0, no priority and no early stopping', () => {
    const spec = SweepSpecSchema.parse(ok);
    expect(spec.search).toEqual({ method: 'grid', seed: 0 });
    expect(spec.priority).toBe(0);
    expect(spec.earlyStopping).toBeUndefined();
  });
  it('accepts distributions on numeric axes and knobs of a random search', () => {
    const spec = SweepSpecSchema.parse({
      ...random(
        { r: { dist: 'qLogUniform', min: 4, max: 64 }, lr: { dist: 'logUniform', min: 1e-5, max: 1e-2 }, alpha: [8, 16] },
        { seed: 3 },
      ),
      variants: ['lora', 'loraplus'],
      searchSpace: {
        r: { dist: 'qLogUniform', min: 4, max: 64 },
        lr: { dist: 'logUniform', min: 1e-5, max: 1e-2 },
        dropout: { dist: 'uniform', min: 0, max: 0.2 },
        alpha: 16,
        perVariant: { loraplus: { lrRatio: { dist: 'logUniform', min: 2, max: 32 } } },
      },
    });
    expect(spec.search).toEqual({ method: 'random', seed: 3, trials: 8 });
    expect(spec.searchSpace.r).toEqual({ dist: 'qLogUniform', min: 4, max: 64 });
    expect(spec.searchSpace.alpha).toEqual([16]);
    expect(spec.searchSpace.perVariant.loraplus?.lrRatio).toEqual({ dist: 'logUniform', min: 2, max: 32 });
  });
  it('refuses a distribution in a grid sweep, naming the field', () => {
    expect(errors({ ...ok, searchSpace: { lr: { dist: 'logUniform', min: 1e-5, max: 1e-2 } } })).toEqual([
      { field: 'searchSpace.lr', message: 'distributions need search.method = random' },
    ]);
    expect(
      fields({
        ...ok,
        variants: ['loraplus'],
        searchSpace: { perVariant: { loraplus: { lrRatio: { dist: 'uniform', min: 2, max: 4 } } } },
      }),
    ).toEqual(['searchSpace.perVariant.loraplus.lrRatio']);
  });
  it('needs search.trials for random, and only there', () => {
    expect(errors({ ...ok, search: { method: 'random' } })).toEqual([
      { field: 'search.trials', message: 'is required for search.method = random (how many trials to sample)' },
    ]);
    expect(fields({ ...ok, search: { trials: 4 } })).toEqual(['search.trials']);
    expect(fields({ ...ok, search: { method: 'bayes' } })).toEqual(['search.method']);
    expect(fields({ ...ok, search: { method: 'random', trials: 0 } })).toEqual(['search.trials']);
  });
  it('checks each distribution: bounds, order, log > 0, integers, the axis limits', () => {
    expect(errors(random({ lr: { dist: 'logUniform', min: 0, max: 1e-2 } }))).toEqual([
      { field: 'searchSpace.lr.min', message: 'learning rate must be > 0' },
      { field: 'searchSpace.lr.min', message: 'must be > 0 for logUniform' },
    ]);
    expect(errors(random({ lr: { dist: 'uniform', min: 1e-2, max: 1e-3 } }))).toEqual([
      { field: 'searchSpace.lr.max', message: 'must be greater than min (0.01)' },
    ]);
    expect(fields(random({ lr: { dist: 'uniform', min: 1e-3, max: 2 } }))).toEqual(['searchSpace.lr.max']);
    expect(errors(random({ r: { dist: 'uniform', min: 4, max: 64 } }))).toEqual([
      { field: 'searchSpace.r.dist', message: 'this axis takes integers: use intUniform or qLogUniform, not uniform' },
    ]);
    expect(fields(random({ r: { dist: 'intUniform', min: 0, max: 8 } }))).toEqual(['searchSpace.r.min']);
    expect(fields(random({ alpha: { dist: 'intUniform', min: 1.5, max: 8 } }))).toEqual(['searchSpace.alpha.min']);
    expect(fields(random({ alpha: { dist: 'uniform', min: 1, max: 8, q: 2 } }))).toEqual(['searchSpace.alpha.q']);
    expect(fields(random({ alpha: { dist: 'qLogUniform', min: 5, max: 7, q: 8 } }))).toEqual(['searchSpace.alpha.q']);
    expect(fields(random({ r: { dist: 'qLogUniform', min: 4, max: 64, q: 0.5 } }))).toEqual(['searchSpace.r.q']);
  });
  it('names the bad part of a malformed distribution', () => {
    const e = errors(random({ lr: { dist: 'normal', min: 1e-5, max: 1e-2 } }));
    expect(e).toHaveLength(1);
    expect(e[0].field).toBe('searchSpace.lr.dist');
    expect(e[0].message).toMatch(/uniform, logUniform, intUniform, qLogUniform/);
    expect(fields(random({ lr: { dist: 'uniform', min: 1e-5, max: 1e-2, mean: 3 } }))).toEqual(['searchSpace.lr.mean']);
    expect(fields(random({ lr: { dist: 'uniform', min: 'a', max: 1e-2 } }))).toEqual(['searchSpace.lr.min']);
    expect(fields(random({ r: { min: 4, max: 8 } }))).toEqual(['searchSpace.r.dist']);
    // Lists keep naming the element.
    expect(fields(random({ r: [4, 'x'] }))).toEqual(['searchSpace.r.1']);
    expect(fields({ ...ok, searchSpace: { r: 'x' } })).toEqual(['searchSpace.r.0']);
  });
  it('keeps distributions off non-numeric axes', () => {
    expect(fields(random({ rslora: { dist: 'uniform', min: 0, max: 1 } }))).toEqual(['searchSpace.rslora.0']);
    expect(fields(random({ targetModules: { dist: 'uniform', min: 0, max: 1 } }))).toEqual(['searchSpace.targetModules.0']);
  });
});

describe('priority and early stopping', () => {
  it('takes a BullMQ priority: 0 (none) to 2,097,151', () => {
    expect(SweepSpecSchema.parse({ ...ok, priority: 5 }).priority).toBe(5);
    expect(SweepSpecSchema.parse({ ...ok, priority: 2 ** 21 - 1 }).priority).toBe(2 ** 21 - 1);
    expect(fields({ ...ok, priority: -1 })).toEqual(['priority']);
    expect(fields({ ...ok, priority: 2 ** 21 })).toEqual(['priority']);
    expect(fields({ ...ok, priority: 1.5 })).toEqual(['priority']);
  });
  const evals = { steps: 200, evalEvery: 10 };
  it('fills the median rule defaults', () => {
    const spec = SweepSpecSchema.parse({ ...ok, training: evals, earlyStopping: { rule: 'median' } });
    expect(spec.earlyStopping).toEqual({ rule: 'median', metric: 'eval_loss', graceSteps: 0, minTrials: 3 });
  });
  it('fills the ASHA defaults', () => {
    const spec = SweepSpecSchema.parse({ ...ok, training: evals, earlyStopping: { rule: 'asha', minSteps: 20 } });
    expect(spec.earlyStopping).toEqual({ rule: 'asha', metric: 'eval_loss', minSteps: 20, reductionFactor: 3 });
  });
  it('names what is wrong with a rule', () => {
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'hyperband' } })).toEqual(['earlyStopping.rule']);
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'median', metric: 'train_loss' } })).toEqual(['earlyStopping.metric']);
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'asha' } })).toEqual(['earlyStopping.minSteps']);
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'asha', minSteps: 20, reductionFactor: 1 } })).toEqual([
      'earlyStopping.reductionFactor',
    ]);
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'asha', minSteps: 20, maxSteps: 20 } })).toEqual([
      'earlyStopping.maxSteps',
    ]);
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'median', minSteps: 20 } })).toEqual(['earlyStopping.minSteps']);
  });
  it('needs evals the rule can compare', () => {
    expect(errors({ ...ok, earlyStopping: { rule: 'median' } })).toEqual([
      { field: 'training.evalEvery', message: 'must be > 0 when earlyStopping is set (the rules compare eval loss)' },
    ]);
    expect(errors({ ...ok, training: evals, earlyStopping: { rule: 'asha', minSteps: 25 } })).toEqual([
      { field: 'earlyStopping.minSteps', message: 'must be a multiple of training.evalEvery (10) so every rung has an eval' },
    ]);
    expect(fields({ ...ok, training: evals, earlyStopping: { rule: 'asha', minSteps: 200 } })).toEqual(['earlyStopping.minSteps']);
  });
  it('still renders as JSON Schema for the OpenAPI docs', () => {
    const schema = z.toJSONSchema(SweepSpecSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['search', 'priority', 'earlyStopping']));
  });
});

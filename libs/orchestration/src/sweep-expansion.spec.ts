import { knobAxes, SweepSpecSchema } from '@lora/contracts';
import { countGrid, expandGrid, SweepExpansionError } from './sweep-expansion';

const spec = (extra: object) => SweepSpecSchema.parse({ baseModel: 'm', dataset: 'd', variants: ['lora'], ...extra });

describe('expandGrid', () => {
  it('expands to exactly the product of the axes, in a stable order', () => {
    const s = spec({ searchSpace: { r: [4, 8], lr: [1e-3, 3e-3, 1e-2], targetModules: [['c_attn'], ['c_attn', 'c_fc']] } });
    const trials = expandGrid(s);
    expect(trials).toHaveLength(12);
    expect(countGrid(s)).toBe(12);
    expect(trials.map((t) => t.index)).toEqual([...Array(12).keys()]);
    const keys = trials.map((t) => JSON.stringify([t.hyperparams.r, t.hyperparams.lr, t.hyperparams.targetModules]));
    expect(new Set(keys).size).toBe(12);
    expect(trials[0].hyperparams).toMatchObject({ r: 4, lr: 1e-3, targetModules: ['c_attn'] });
    expect(trials[1].hyperparams).toMatchObject({ r: 4, lr: 1e-3, targetModules: ['c_attn', 'c_fc'] });
    expect(expandGrid(s)).toEqual(trials);
  });
  it('refuses a grid larger than the budget, naming budget.maxTrials', () => {
    const s = spec({ searchSpace: { r: [1, 2, 3] }, budget: { maxTrials: 2 } });
    expect(() => expandGrid(s)).toThrow(SweepExpansionError);
    try {
      expandGrid(s);
    } catch (e) {
      expect((e as SweepExpansionError).field).toBe('budget.maxTrials');
    }
  });
});

describe('per-variant knobs', () => {
  it('multiply only their own variant, with PEFT defaults filled in', () => {
    const s = SweepSpecSchema.parse({
      baseModel: 'm',
      dataset: 'd',
      variants: ['lora'],
      searchSpace: { r: [4, 8], perVariant: { loraplus: { lrRatio: [4, 16] } } },
    });
    // Only lora is asked for: loraplus knobs do not multiply anything.
    expect(expandGrid(s)).toHaveLength(2);
    expect(expandGrid(s)[0].hyperparams.knobs).toEqual({});
  });
  it('crosses each variant with its own knobs only', () => {
    const s = SweepSpecSchema.parse({
      baseModel: 'm',
      dataset: 'd',
      variants: ['lora', 'loraplus', 'adalora'],
      searchSpace: { r: [8, 16], perVariant: { loraplus: { lrRatio: [4, 16] }, adalora: { targetR: [4] } } },
    });
    const trials = expandGrid(s);
    expect(trials.map((t) => t.variant)).toEqual(['lora', 'lora', 'loraplus', 'loraplus', 'loraplus', 'loraplus', 'adalora', 'adalora']);
    expect(countGrid(s)).toBe(8);
    expect(trials[2].hyperparams.knobs).toEqual({ lrRatio: 4 });
    expect(trials[6].hyperparams.knobs).toMatchObject({ targetR: 4, tinit: 0, deltaT: 1 });
  });
  it('refuses an AdaLoRA targetR above r, naming the knob', () => {
    const s = SweepSpecSchema.parse({ baseModel: 'm', dataset: 'd', variants: ['adalora'], searchSpace: { r: [4] } });
    expect(() => expandGrid(s)).toThrow(/targetR \(8\) must not exceed/);
  });
  it('fills defaults for a variant named without knobs', () => {
    const axes = knobAxes('deltalora', undefined);
    expect(axes).toEqual({ lambda: [2], startStep: [500] });
  });
});

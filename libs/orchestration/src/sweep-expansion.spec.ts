import { knobAxes, SweepSpecSchema } from '@lora/contracts';
import { Rng } from '@lora/engine/io';
import { countGrid, countTrials, expandGrid, expandRandom, expandSweep, SweepExpansionError } from './sweep-expansion';

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
  it('counts a huge knob grid from the axis lengths, without building it', () => {
    const k = Array.from({ length: 40 }, (_, i) => i + 1);
    const frac = k.map((i) => i / 100);
    const s = spec({
      variants: ['adalora'],
      searchSpace: {
        r: [64],
        perVariant: { adalora: { targetR: k, tinit: k, tfinal: k, deltaT: k, beta1: frac, beta2: frac, orthRegWeight: frac } },
      },
    });
    expect(countGrid(s)).toBe(40 ** 7);
    expect(() => expandGrid(s)).toThrow(expect.objectContaining({ field: 'budget.maxTrials' }));
  });
  it('checks random-search rank bounds of a very long r list (no stack overflow)', () => {
    const r = Array.from({ length: 300_000 }, () => 8);
    r[1234] = 2;
    const s = spec({
      variants: ['adalora'],
      search: { method: 'random', trials: 2 },
      searchSpace: { r, perVariant: { adalora: { targetR: [4] } } },
    });
    expect(() => expandRandom(s)).toThrow(expect.objectContaining({ field: 'searchSpace.perVariant.adalora.targetR' }));
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

const random = (trials: number, searchSpace: object = {}, extra: object = {}) =>
  spec({ search: { method: 'random', seed: 7, trials }, searchSpace, ...extra });

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof SweepExpansionError) return e.field;
    throw e;
  }
  return undefined;
}

describe('expandRandom', () => {
  const lrDist = { dist: 'logUniform', min: 1e-5, max: 1e-2 };

  it('draws each axis in a documented order from one Rng stream', () => {
    const s = random(2, { r: [4, 8, 16], lr: lrDist, dropout: { dist: 'uniform', min: 0, max: 0.2 } });
    const rng = new Rng(7);
    const expected = [0, 1].map(() => {
      const r = [4, 8, 16][rng.int(3)];
      rng.int(1); // alpha [8]
      const lr = Math.exp(Math.log(1e-5) + (Math.log(1e-2) - Math.log(1e-5)) * rng.next());
      const dropout = 0.2 * rng.next();
      rng.int(1); // targetModules [['c_attn']]
      rng.int(1); // rslora [false]
      return { r, lr, dropout };
    });
    const trials = expandRandom(s);
    expect(trials.map((t) => ({ r: t.hyperparams.r, lr: t.hyperparams.lr, dropout: t.hyperparams.dropout }))).toEqual(expected);
    expect(trials.map((t) => t.index)).toEqual([0, 1]);
  });
  it('is reproducible from the seed, differs across seeds, and keeps its prefix when asking for more', () => {
    const space = { r: { dist: 'qLogUniform', min: 4, max: 64 }, lr: lrDist, alpha: [8, 16, 32] };
    const a = expandRandom(random(10, space));
    expect(expandRandom(random(10, space))).toEqual(a);
    const other = expandRandom(spec({ search: { method: 'random', seed: 8, trials: 10 }, searchSpace: space }));
    expect(other.map((t) => t.hyperparams.lr)).not.toEqual(a.map((t) => t.hyperparams.lr));
    expect(expandRandom(random(5, space))).toEqual(a.slice(0, 5));
  });
  it('stores concrete values in the same shape as the grid', () => {
    const [t] = expandRandom(random(1, { r: { dist: 'intUniform', min: 2, max: 4 }, lr: lrDist }));
    const [g] = expandGrid(spec({}));
    expect(Object.keys(t.hyperparams).sort()).toEqual(Object.keys(g.hyperparams).sort());
    expect(typeof t.hyperparams.lr).toBe('number');
    expect(t.hyperparams.targetModules).toEqual(['c_attn']);
    expect(t.hyperparams.training).toEqual(g.hyperparams.training);
  });
  it('samples inside each distribution: integers for int axes, log-uniform lr, both intUniform ends', () => {
    const trials = expandRandom(
      random(
        1000,
        {
          r: { dist: 'qLogUniform', min: 4, max: 64 },
          alpha: { dist: 'intUniform', min: 1, max: 3 },
          lr: lrDist,
          dropout: { dist: 'uniform', min: 0.1, max: 0.3 },
        },
        { budget: { maxTrials: 1000 } },
      ),
    );
    const hp = trials.map((t) => t.hyperparams);
    expect(hp.every((h) => Number.isInteger(h.r) && h.r >= 4 && h.r <= 64)).toBe(true);
    expect(new Set(hp.map((h) => h.alpha))).toEqual(new Set([1, 2, 3]));
    expect(hp.every((h) => h.lr >= 1e-5 && h.lr < 1e-2)).toBe(true);
    expect(hp.every((h) => h.dropout >= 0.1 && h.dropout < 0.3)).toBe(true);
    // Log-uniform: half the mass below the geometric mean 3.16e-4 (a uniform draw would put ~3% there).
    const below = hp.filter((h) => h.lr < Math.sqrt(1e-5 * 1e-2)).length / hp.length;
    expect(below).toBeGreaterThan(0.43);
    expect(below).toBeLessThan(0.57);
    // qLogUniform on [4, 64]: as many ranks in [4, 16) as in [16, 64].
    const small = hp.filter((h) => h.r < 16).length / hp.length;
    expect(small).toBeGreaterThan(0.42);
    expect(small).toBeLessThan(0.58);
  });
  it('chooses uniformly from lists, including lists of module lists', () => {
    const trials = expandRandom(
      random(300, { r: [4, 8], targetModules: [['c_attn'], ['c_attn', 'c_proj']], rslora: [true, false] }, { budget: { maxTrials: 300 } }),
    );
    const count = (pred: (i: number) => boolean) => trials.filter((_, i) => pred(i)).length;
    expect(count((i) => trials[i].hyperparams.r === 4)).toBeGreaterThan(120);
    expect(count((i) => trials[i].hyperparams.targetModules.length === 2)).toBeGreaterThan(120);
    expect(count((i) => trials[i].hyperparams.rslora)).toBeGreaterThan(120);
    expect(trials[0].hyperparams.targetModules).not.toBe(trials[1].hyperparams.targetModules);
  });
  it('cycles the variants and samples each variant its own knobs', () => {
    const s = SweepSpecSchema.parse({
      baseModel: 'm',
      dataset: 'd',
      variants: ['lora', 'loraplus', 'deltalora'],
      search: { method: 'random', seed: 1, trials: 7 },
      searchSpace: { dropout: [0.1], perVariant: { loraplus: { lrRatio: { dist: 'logUniform', min: 2, max: 32 } } } },
    });
    const trials = expandRandom(s);
    expect(trials.map((t) => t.variant)).toEqual(['lora', 'loraplus', 'deltalora', 'lora', 'loraplus', 'deltalora', 'lora']);
    expect(trials[0].hyperparams.knobs).toEqual({});
    const ratio = trials[1].hyperparams.knobs.lrRatio as number;
    expect(ratio).toBeGreaterThanOrEqual(2);
    expect(ratio).toBeLessThan(32);
    expect(trials[2].hyperparams.knobs).toEqual({ lambda: 2, startStep: 500 });
    expect(trials[2].hyperparams.dropout).toBe(0);
    expect(trials[0].hyperparams.dropout).toBe(0.1);
  });
  it('refuses more trials than the budget, naming search.trials', () => {
    const s = random(65, { lr: lrDist });
    expect(() => expandRandom(s)).toThrow(/search.trials \(65\) is more than budget.maxTrials \(64\)/);
    expect(fieldOf(() => expandRandom(s))).toBe('search.trials');
  });
  it('refuses AdaLoRA ranges where targetR can exceed r, whatever the seed draws', () => {
    const s = SweepSpecSchema.parse({
      baseModel: 'm',
      dataset: 'd',
      variants: ['adalora'],
      search: { method: 'random', trials: 2 },
      searchSpace: { r: { dist: 'intUniform', min: 4, max: 16 }, perVariant: { adalora: { targetR: [4, 8] } } },
    });
    expect(() => expandRandom(s)).toThrow(/targetR \(8\) must not exceed its initial rank r \(4\)/);
    const ok = SweepSpecSchema.parse({ ...s, searchSpace: { ...s.searchSpace, r: { dist: 'intUniform', min: 8, max: 16 } } });
    expect(expandRandom(ok).every((t) => (t.hyperparams.knobs.targetR as number) <= t.hyperparams.r)).toBe(true);
  });
});

describe('expandSweep', () => {
  it('dispatches on search.method', () => {
    const grid = spec({ searchSpace: { r: [4, 8] } });
    expect(expandSweep(grid)).toEqual(expandGrid(grid));
    expect(countTrials(grid)).toBe(2);
    const r = random(3, { lr: { dist: 'logUniform', min: 1e-4, max: 1e-2 } });
    expect(expandSweep(r)).toEqual(expandRandom(r));
    expect(countTrials(r)).toBe(3);
  });
  it('refuses a distribution in a grid even when the schema was bypassed', () => {
    const s = spec({});
    const bad = { ...s, searchSpace: { ...s.searchSpace, lr: { dist: 'logUniform' as const, min: 1e-4, max: 1e-2 } } };
    expect(fieldOf(() => expandSweep(bad))).toBe('searchSpace.lr');
  });
});

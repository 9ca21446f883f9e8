import {
  compareCells,
  flattenHyperparams,
  hyperparamColumns,
  matchesFilter,
  parseFilter,
  sortRows,
  varyingNumericColumns,
  type FlatRow,
} from './table';

const hp = (over: Record<string, unknown> = {}) => ({
  variant: 'lora',
  r: 8,
  alpha: 16,
  lr: 1e-3,
  dropout: 0,
  targetModules: ['c_attn', 'c_proj'],
  rslora: false,
  knobs: {},
  training: { steps: 100, seed: 0 },
  ...over,
});

describe('flattenHyperparams / hyperparamColumns', () => {
  it('flattens common keys, knobs by name and training.* keys', () => {
    const f = flattenHyperparams(hp({ knobs: { lrRatio: 16 } }));
    expect(f).toMatchObject({ r: 8, alpha: 16, lr: 1e-3, targetModules: 'c_attn,c_proj', rslora: false, lrRatio: 16 });
    expect(f['training.steps']).toBe(100);
    expect(flattenHyperparams(null)).toEqual({});
  });

  it('uses the union of knobs and only training keys that vary', () => {
    const rows = [
      flattenHyperparams(hp({ knobs: { lrRatio: 16 } })),
      flattenHyperparams(hp({ knobs: { targetR: 4 }, training: { steps: 100, seed: 1 } })),
    ];
    expect(hyperparamColumns(rows)).toEqual([
      'r',
      'alpha',
      'lr',
      'dropout',
      'rslora',
      'targetModules',
      'lrRatio',
      'targetR',
      'training.seed',
    ]);
  });

  it('finds varying numeric columns', () => {
    const rows: FlatRow[] = [
      { r: 4, alpha: 16, name: 'a' },
      { r: 8, alpha: 16, name: 'b' },
      { r: null, alpha: 16, name: 'c' },
    ];
    expect(varyingNumericColumns(rows, ['r', 'alpha', 'name'])).toEqual(['r']);
  });
});

describe('sorting', () => {
  it('puts nulls last in both directions', () => {
    const rows: FlatRow[] = [{ v: 2 }, { v: null }, { v: 1 }, { v: 3 }];
    expect(sortRows(rows, 'v', 'asc').map((r) => r.v)).toEqual([1, 2, 3, null]);
    expect(sortRows(rows, 'v', 'desc').map((r) => r.v)).toEqual([3, 2, 1, null]);
  });

  it('compares numbers numerically and strings naturally, and is stable', () => {
    expect(compareCells(10, 9)).toBeGreaterThan(0);
    expect(compareCells('trial-10', 'trial-9')).toBeGreaterThan(0);
    const rows: FlatRow[] = [
      { k: 'a', i: 0 },
      { k: 'b', i: 1 },
      { k: 'a', i: 2 },
    ];
    expect(sortRows(rows, 'k', 'asc').map((r) => r.i)).toEqual([0, 2, 1]);
  });
});

describe('filter', () => {
  const rows: FlatRow[] = [
    { index: 0, variant: 'lora', status: 'succeeded', r: 4, lr: 0.001, targetModules: 'c_attn,c_proj', finalEvalLoss: 2.5 },
    { index: 1, variant: 'dora', status: 'failed', r: 8, lr: 0.01, targetModules: 'c_attn', finalEvalLoss: null },
    { index: 2, variant: 'adalora', status: 'running', r: 16, lr: 0.0001, targetModules: 'c_fc', finalEvalLoss: 3.1 },
  ];
  const text = ['variant', 'status', 'targetModules'];
  const run = (q: string) => rows.filter((r) => matchesFilter(r, parseFilter(q), text)).map((r) => r.index);

  it('parses comparison and text terms', () => {
    expect(parseFilter(' r>=8  lora x=')).toEqual([
      { kind: 'cmp', key: 'r', op: '>=', value: '8' },
      { kind: 'text', text: 'lora' },
      { kind: 'text', text: 'x=' },
    ]);
  });

  it('matches free text as a case-insensitive substring', () => {
    expect(run('LORA')).toEqual([0, 2]);
    expect(run('')).toEqual([0, 1, 2]);
  });

  it('supports key=value (numeric, string and list membership) and !=', () => {
    expect(run('r=8')).toEqual([1]);
    expect(run('variant=lora')).toEqual([0]);
    expect(run('targetModules=c_attn')).toEqual([0, 1]);
    expect(run('status!=failed')).toEqual([0, 2]);
  });

  it('supports numeric > and < and ignores rows without the value', () => {
    expect(run('r>4')).toEqual([1, 2]);
    expect(run('lr<0.005')).toEqual([0, 2]);
    expect(run('finalEvalLoss<3')).toEqual([0]);
    expect(run('finalevalloss>0 r<10')).toEqual([0]);
  });

  it('matches nothing for an unknown key', () => {
    expect(run('nope=1')).toEqual([]);
  });
});

// Case generator of test/fuzz.e2e-spec.ts: malformed sweep bodies, raw bodies, ids and query
// strings, all from one seeded PRNG (same seed → same cases). Every sweep body is a VALID body
// with exactly one mutation that makes it invalid whatever else it holds, and the case says which
// field(s) the 400 must name: an `errors[].field` equal to one of `fields` or lying under it
// ("searchSpace.r" is named by "searchSpace.r" and by "searchSpace.r.0").
import { ALL_VARIANTS, DISTRIBUTIONS } from '@lora/contracts';

export interface FuzzCase {
  /** Family (for the per-family counts). */
  family: string;
  /** What was done, for failure reports. */
  desc: string;
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  headers?: Record<string, string>;
  /** Allowed statuses (default: any 4xx). */
  status?: number[];
  /** A 400 must name one of these fields (or a field under one). */
  fields?: string[];
}

// ---------------------------------------------------------------------------------------------
// PRNG (mulberry32)

export class FuzzRng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  str(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789_-. /\\"\'{}[]:,é漢🙂\t'): string {
    const chars = Array.from(alphabet); // code points: no lone surrogates
    let s = '';
    for (let i = 0; i < n; i++) s += chars[this.int(chars.length)];
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Valid bodies (each one is accepted by the API: the spec submits them once first)

const MODEL = 'sotu-gpt2-small';
const DATA = 'moby-dick';

export const VALID_BODIES: Record<string, () => Record<string, unknown>> = {
  minimal: () => ({ baseModel: MODEL, dataset: DATA, variants: ['lora'], training: { steps: 2 } }),
  grid: () => ({
    name: 'fuzz grid',
    baseModel: MODEL,
    dataset: DATA,
    task: 'causal-lm',
    variants: ['lora', 'loraplus', 'vera', 'lorafa', 'adalora', 'dora', 'deltalora'],
    searchSpace: {
      r: [8],
      alpha: [16],
      lr: [3e-3],
      dropout: [0],
      targetModules: [['c_attn', 'c_proj']],
      rslora: [false],
      perVariant: {
        loraplus: { lrRatio: [8, 16] },
        vera: { dInitial: 0.1, projectionPrngKey: 0 },
        lorafa: { gradientCorrection: true },
        adalora: { targetR: 4, tinit: 1, tfinal: 1, deltaT: 1, beta1: 0.85, beta2: 0.85, orthRegWeight: 0.5 },
        dora: {},
        deltalora: { lambda: [1, 2], startStep: 1 },
      },
    },
    training: { steps: 4, batchSize: 2, seqLen: 16, warmupSteps: 1, evalEvery: 2, evalBatches: 1, checkpointEvery: 0 },
    budget: { maxTrials: 16, maxConcurrent: 4 },
  }),
  random: () => ({
    name: 'fuzz random',
    baseModel: MODEL,
    dataset: DATA,
    variants: ['lora', 'loraplus', 'adalora', 'vera'],
    search: { method: 'random', trials: 4, seed: 7 },
    searchSpace: {
      r: { dist: 'qLogUniform', min: 8, max: 32, q: 4 },
      alpha: { dist: 'uniform', min: 4, max: 32 },
      lr: { dist: 'logUniform', min: 1e-4, max: 1e-2 },
      dropout: [0, 0.1],
      targetModules: [['c_attn'], ['c_attn', 'mlp.c_proj']],
      rslora: [true, false],
      perVariant: {
        loraplus: { lrRatio: { dist: 'uniform', min: 2, max: 16 } },
        adalora: { targetR: { dist: 'intUniform', min: 2, max: 8 }, tinit: 1, tfinal: 1, deltaT: 1 },
        vera: { dInitial: { dist: 'uniform', min: 0, max: 1 }, projectionPrngKey: { dist: 'intUniform', min: 0, max: 100 } },
      },
    },
    training: { steps: 4, batchSize: 2, seqLen: 16, evalEvery: 2, evalBatches: 1 },
    budget: { maxTrials: 8, maxConcurrent: 2 },
    priority: 5,
  }),
  asha: () => ({
    baseModel: MODEL,
    dataset: DATA,
    variants: ['lora', 'dora'],
    searchSpace: { r: [2, 4], targetModules: [['c_attn']] },
    training: { steps: 20, evalEvery: 5, warmupSteps: 2, schedule: 'constant', clipNorm: null, logEvery: 2, checkpointEvery: 10, seed: 3 },
    earlyStopping: { rule: 'asha', metric: 'eval_loss', minSteps: 5, reductionFactor: 2, maxSteps: 15 },
  }),
  median: () => ({
    baseModel: MODEL,
    dataset: DATA,
    variants: ['lorafa', 'deltalora', 'loradrop'],
    searchSpace: {
      perVariant: {
        lorafa: { gradientCorrection: [true, false] },
        deltalora: { lambda: 1, startStep: 2 },
        loradrop: { threshold: 0.5, probeSteps: 2, probeFraction: 0.5 },
      },
    },
    training: { steps: 10, evalEvery: 5 },
    earlyStopping: { rule: 'median', graceSteps: 5, minTrials: 2 },
  }),
};

// ---------------------------------------------------------------------------------------------
// Field kinds: what each path of a sweep body holds, so a mutation can pick a value that is
// invalid there whatever the rest of the body says.

type Kind =
  | { t: 'int' | 'num'; min?: number; max?: number; gt?: number; lt?: number; nullable?: boolean }
  | { t: 'name' | 'catalog' | 'variants' | 'variant' | 'module' | 'modules' | 'modulesAxis' | 'boolAxis' | 'bool' | 'obj' | 'es' }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'numAxis'; item: Kind }
  | { t: 'distField'; field: 'dist' | 'min' | 'max' | 'q' };

const int = (min?: number, max?: number): Kind => ({ t: 'int', min, max });
const num = (o: { min?: number; max?: number; gt?: number; lt?: number; nullable?: boolean }): Kind => ({ t: 'num', ...o });
const axisOf = (item: Kind): Kind => ({ t: 'numAxis', item });
const I31 = 2 ** 31 - 1;

const KNOBS: Record<string, Record<string, Kind>> = {
  lora: {},
  loraplus: { lrRatio: axisOf(num({ gt: 0, max: 1e4 })) },
  vera: { dInitial: axisOf(num({ min: 0, max: 10 })), projectionPrngKey: axisOf(int(0, I31)) },
  lorafa: { gradientCorrection: { t: 'boolAxis' } },
  loradrop: {
    threshold: axisOf(num({ gt: 0, max: 1 })),
    topN: axisOf(int(1)),
    probeSteps: axisOf(int(1, 100_000)),
    probeFraction: axisOf(num({ gt: 0, max: 1 })),
  },
  adalora: {
    targetR: axisOf(int(1, 1024)),
    tinit: axisOf(int(0)),
    tfinal: axisOf(int(0)),
    deltaT: axisOf(int(1)),
    beta1: axisOf(num({ min: 0, lt: 1 })),
    beta2: axisOf(num({ min: 0, lt: 1 })),
    orthRegWeight: axisOf(num({ min: 0 })),
  },
  dora: {},
  deltalora: { lambda: axisOf(num({ min: 0, max: 100 })), startStep: axisOf(int(0)) },
};

const FIELDS: Record<string, Kind> = {
  name: { t: 'name' },
  baseModel: { t: 'catalog' },
  dataset: { t: 'catalog' },
  task: { t: 'enum', values: ['causal-lm'] },
  variants: { t: 'variants' },
  'variants.#': { t: 'variant' },
  priority: int(0, 2 ** 21 - 1),
  searchSpace: { t: 'obj' },
  'searchSpace.r': axisOf(int(1, 1024)),
  'searchSpace.alpha': axisOf(num({ gt: 0, max: 65536 })),
  'searchSpace.lr': axisOf(num({ gt: 0, max: 1 })),
  'searchSpace.dropout': axisOf(num({ min: 0, max: 0.9 })),
  'searchSpace.targetModules': { t: 'modulesAxis' },
  'searchSpace.targetModules.#': { t: 'modules' },
  'searchSpace.targetModules.#.#': { t: 'module' },
  'searchSpace.rslora': { t: 'boolAxis' },
  'searchSpace.rslora.#': { t: 'bool' },
  'searchSpace.perVariant': { t: 'obj' },
  training: { t: 'obj' },
  'training.steps': int(1, 1_000_000),
  'training.batchSize': int(1, 1024),
  'training.seqLen': int(2, 8192),
  'training.warmupSteps': int(0),
  'training.schedule': { t: 'enum', values: ['constant', 'cosine'] },
  'training.clipNorm': num({ gt: 0, nullable: true }),
  'training.logEvery': int(1),
  'training.evalEvery': int(0),
  'training.evalBatches': int(1, 10_000),
  'training.checkpointEvery': int(0),
  'training.seed': int(0, I31),
  budget: { t: 'obj' },
  'budget.maxTrials': int(1, 10_000),
  'budget.maxConcurrent': int(1, 1024),
  search: { t: 'obj' },
  'search.method': { t: 'enum', values: ['grid', 'random'] },
  'search.seed': int(0, I31),
  'search.trials': int(1, 10_000),
  earlyStopping: { t: 'es' },
  'earlyStopping.rule': { t: 'enum', values: ['median', 'asha'] },
  'earlyStopping.metric': { t: 'enum', values: ['eval_loss'] },
  'earlyStopping.graceSteps': int(0),
  'earlyStopping.minTrials': int(1, 10_000),
  'earlyStopping.minSteps': int(1),
  'earlyStopping.reductionFactor': int(2, 100),
  'earlyStopping.maxSteps': int(1),
};
for (const [v, knobs] of Object.entries(KNOBS)) {
  FIELDS[`searchSpace.perVariant.${v}`] = { t: 'obj' };
  for (const [k, kind] of Object.entries(knobs)) {
    FIELDS[`searchSpace.perVariant.${v}.${k}`] = kind;
    if (kind.t === 'boolAxis') FIELDS[`searchSpace.perVariant.${v}.${k}.#`] = { t: 'bool' };
  }
}

type Path = Array<string | number>;
const dotted = (p: Path) => p.map(String).join('.');

function kindAt(path: Path): Kind | undefined {
  const norm = path.map((s) => (typeof s === 'number' ? '#' : s)).join('.');
  if (Object.hasOwn(FIELDS, norm)) return FIELDS[norm];
  const parent = path.length > 0 ? kindAt(path.slice(0, -1)) : undefined;
  if (parent?.t === 'numAxis') {
    const last = path[path.length - 1];
    if (typeof last === 'number') return parent.item;
    if (last === 'dist' || last === 'min' || last === 'max' || last === 'q') return { t: 'distField', field: last };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Values

/** A raw JSON number token spliced into the body text (1e400 parses to Infinity). */
const RAW = (token: string) => `\u0001RAW:${token}\u0001`;
const unraw = (json: string) => json.replace(/"\\u0001RAW:([^\\"]*)\\u0001"/g, '$1');
export const serialize = (v: unknown) => unraw(JSON.stringify(v));

function deepJunk(rng: FuzzRng, depth: number): unknown {
  let v: unknown = rng.pick([1, 'x', null, true, {}, []]);
  const arrays = rng.chance(0.5);
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { [rng.pick(['a', 'r', 'steps', 'dist'])]: v };
  return v;
}

const NAN_LIKE = ['NaN', 'Infinity', '-Infinity', 'nan', '1e400', '0x10', '1_000', '', ' ', '8', '-1', '1.5', 'true', 'null', '[]', '{}'];

/** A value of the wrong JSON type for a number (or boolean) field. */
function wrongTypeForNumber(rng: FuzzRng, nullable = false, axis = false): unknown {
  const pool: Array<() => unknown> = [
    () => rng.pick(NAN_LIKE),
    () => rng.pick([true, false]),
    () => [],
    // On an axis a list of numbers is right: only a list of something else is wrong.
    () => (axis ? [String(rng.int(10))] : [rng.int(10)]),
    () => ({}),
    () => ({ value: rng.int(10) }),
    () => deepJunk(rng, rng.range(2, 400)),
    () => rng.str(rng.range(1, 40)),
  ];
  if (!nullable) pool.push(() => null);
  return rng.pick(pool)();
}

/** A number outside the kind's range (or a float where an integer goes). */
function outOfRange(rng: FuzzRng, k: Extract<Kind, { t: 'int' | 'num' }>): unknown | undefined {
  const out: Array<() => unknown> = [];
  const lo = k.min ?? k.gt;
  const hi = k.max ?? k.lt;
  if (k.min !== undefined)
    out.push(
      () => k.min! - 1,
      () => k.min! - 1 - rng.int(1e6),
      () => -1e308,
      () => RAW('-1e400'),
    );
  if (k.gt !== undefined)
    out.push(
      () => k.gt!,
      () => k.gt! - rng.next() * 100 - 1e-9,
      () => RAW('-1e400'),
    );
  if (k.max !== undefined)
    out.push(
      () => k.max! + 1,
      () => k.max! * 2 + 1 + rng.int(1e6),
      () => 1e308,
      () => RAW('1e400'),
    );
  if (k.lt !== undefined)
    out.push(
      () => k.lt!,
      () => k.lt! + rng.next() * 100,
    );
  if (hi === undefined)
    out.push(
      () => RAW('1e400'),
      () => RAW(`${rng.range(1, 9)}e${rng.range(400, 999)}`),
    );
  if (k.t === 'int') {
    const base = Math.max(lo ?? 0, 0);
    const top = hi ?? base + 1000;
    out.push(
      () => base + 0.5,
      () => Math.min(top, base + rng.int(100)) - 0.25,
      () => 2 ** 53 + 2, // not a safe integer
    );
  }
  return out.length > 0 ? rng.pick(out)() : undefined;
}

const BAD_MODULE_NAMES = ['', 'c attn', 'c-attn', 'c/attn', 'attn.c_attn ', 'ç_attn', 'c_attn\u0000', '*', 'h.0.*', '../c_attn', '\n'];
const UNKNOWN_MODULES = ['attn', 'c_attnn', 'transformer.h.9.attn.c_attn', 'mlp', 'lm_head', 'wte', 'q_proj', 'C_ATTN', 'h.0.attn'];
const BAD_VARIANTS = ['LoRA', 'lora ', ' lora', 'qlora', 'ia3', '', 'lora\u0000', 'lo ra', 'LORA', 'loha', 'adalora2', 'prefix'];
const JUNK_KEYS = [
  'foo',
  'Steps',
  'steps ',
  'r2',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  ' ',
  '$where',
  'a.b',
  'é',
  '0',
  'prototype',
  'valueOf',
];

/** A value invalid for `kind` (whatever the rest of the body says), or undefined when none. */
function invalidValue(rng: FuzzRng, kind: Kind, random: boolean): unknown {
  switch (kind.t) {
    case 'int':
    case 'num':
      return rng.chance(0.5) ? wrongTypeForNumber(rng, kind.nullable) : (outOfRange(rng, kind) ?? wrongTypeForNumber(rng, kind.nullable));
    case 'name':
      return rng.pick<() => unknown>([
        () => rng.pick([5, true, null, [], {}, ['x'], { name: 'x' }]),
        () => '',
        () => ' '.repeat(rng.range(1, 50)),
        () => rng.str(rng.range(201, 5000)),
        () => rng.pick(['bad\u0000name', 'tab\tname', 'lone \ud800 surrogate', 'lone \udc00', 'bell\u0007']),
      ])();
    case 'catalog':
      return rng.pick<() => unknown>([
        () => rng.pick([5, true, null, [], {}, [MODEL], { name: MODEL }]),
        () => '',
        () => `${rng.str(rng.range(1, 30))}-nope`,
        () => rng.pick([`${MODEL} `, ` ${DATA}`, MODEL.toUpperCase(), DATA.toUpperCase(), '\'; DROP TABLE "Sweep"; --', '%', '_', '*']),
        () => `x${'y'.repeat(rng.range(1000, 200_000))}`,
        () => rng.pick(['nul\u0000byte', '\u0000', 'lone \ud800 surrogate', 'x\udfff', 'line\nbreak']),
      ])();
    case 'enum':
      return rng.pick<() => unknown>([
        () => rng.pick([5, true, null, [], {}, [kind.values[0]]]),
        () => rng.pick(['', 'x', ' ', `${kind.values[0]} `, kind.values[0].toUpperCase(), `${kind.values[0]}\u0000`]),
        () => rng.str(rng.range(1, 20)) + '!',
      ])();
    case 'variant':
      return rng.chance(0.7) ? rng.pick(BAD_VARIANTS) : rng.pick([5, true, null, [], {}, ['lora']]);
    case 'variants':
      return rng.pick([[], 'lora', {}, null, 5, true, [['lora']], { 0: 'lora' }]);
    case 'module':
      return rng.chance(0.5) ? rng.pick(BAD_MODULE_NAMES) : rng.pick([5, true, null, [], {}, ['c_attn']]);
    case 'modules':
      return rng.pick([[], 'c_attn', 5, null, true, {}, [5], [['c_attn']], [null]]);
    case 'modulesAxis':
      return rng.pick([[], [[]], 'c_attn', 5, null, true, {}, ['c_attn'], [5], deepJunk(rng, 50)]);
    case 'boolAxis':
      return rng.pick([[], ['true'], [1], [0], null, 'false', 1, {}, [null], [[true]]]);
    case 'bool':
      return rng.pick(['true', 'false', 1, 0, null, [], {}, [true], 'yes']);
    case 'obj':
      return rng.pick([null, 'x', 5, true, [], [{}], deepJunk(rng, 30)]);
    case 'es':
      return rng.pick([null, 'asha', 5, true, [], [{ rule: 'asha' }], {}, { rule: 'hyperband' }, { rule: 5 }, { rule: null }]);
    case 'distField':
      if (kind.field === 'dist') return rng.pick(['', 'normal', 'Uniform', 'loguniform', 5, null, true, [], {}, ['uniform']]);
      if (kind.field === 'q') return rng.pick([0, -1, '4', null, true, [], {}, RAW('1e400')]);
      return rng.pick(['1', null, true, [], {}, [1], 'NaN', RAW('1e400'), RAW('-1e400')]);
    case 'numAxis':
      return rng.pick<() => unknown>([
        () => [],
        () => wrongTypeForNumber(rng, false, true), // a scalar is shorthand for [scalar]: an invalid item
        () => [invalidValue(rng, kind.item, random)],
        () => ({}),
        () => ({ dist: rng.pick(DISTRIBUTIONS), min: 1 }),
        () => ({ dist: rng.pick(DISTRIBUTIONS), min: 2, max: 1 }),
        () => ({ dist: rng.pick(DISTRIBUTIONS), min: 1, max: 2, extra: 1 }),
        () => ({ dist: 'gaussian', min: 1, max: 2 }),
        () => ({ dist: 'uniform', min: 0.5, max: 0.6, q: 0.1 }),
        () => ({ dist: 'logUniform', min: 0, max: 0.5 }),
        () => ({ dist: 'qLogUniform', min: 5, max: 6, q: 4 }),
        () => ({ min: 0.1, max: 0.2 }),
        // A valid distribution outside random search is an error of the axis.
        ...(random ? [] : [() => ({ dist: kind.item.t === 'int' ? 'intUniform' : 'uniform', min: 0.1, max: 0.2 })]),
      ])();
  }
}

// ---------------------------------------------------------------------------------------------
// Body helpers

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function getAt(body: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k as string] : undefined), body);
}

/** Sets (own property, also for "__proto__"), creating missing parent objects. */
function setAt(body: Record<string, unknown>, path: Path, value: unknown): void {
  let o: Record<string, unknown> = body;
  for (const k of path.slice(0, -1)) {
    const cur = Object.prototype.hasOwnProperty.call(o, k) ? o[k as string] : undefined;
    if (cur === undefined || cur === null || typeof cur !== 'object') {
      Object.defineProperty(o, k, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    o = o[k as string] as Record<string, unknown>;
  }
  Object.defineProperty(o, path[path.length - 1], { value, enumerable: true, writable: true, configurable: true });
}

function deleteAt(body: Record<string, unknown>, path: Path): void {
  const parent = getAt(body, path.slice(0, -1)) as Record<string, unknown>;
  delete parent[path[path.length - 1] as string];
}

/** Every path in the body (objects and arrays walked). */
function paths(v: unknown, prefix: Path = []): Path[] {
  if (!v || typeof v !== 'object') return [];
  const keys: Array<string | number> = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return keys.flatMap((k) => [[...prefix, k], ...paths((v as Record<string, unknown>)[k as string], [...prefix, k])]);
}

/** Paths holding (or able to hold) objects a junk key may be added to. */
function objectPaths(body: unknown): Path[] {
  const out: Path[] = [[]];
  for (const p of paths(body)) {
    const v = getAt(body, p);
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(p);
  }
  return out;
}

/** Every known scalar-ish path, present in the body or not (setting one creates its parents). */
const SETTABLE: Path[] = Object.keys(FIELDS)
  .filter((k) => !k.includes('#'))
  .map((k) => k.split('.'));

// ---------------------------------------------------------------------------------------------
// Sweep body mutations

interface Mutated {
  desc: string;
  body: Record<string, unknown> | string;
  fields: string[];
}

type Mutation = (rng: FuzzRng, base: Record<string, unknown>, baseName: string) => Mutated | undefined;

const isRandom = (b: Record<string, unknown>) => (b.search as { method?: string } | undefined)?.method === 'random';

const mutations: Array<[weight: number, name: string, m: Mutation]> = [
  [
    30,
    'invalid value at an existing path',
    (rng, base) => {
      const candidates = paths(base).filter((p) => kindAt(p));
      const p = rng.pick(candidates);
      const v = invalidValue(rng, kindAt(p)!, isRandom(base));
      if (v === undefined) return undefined;
      setAt(base, p, v);
      return { desc: `${dotted(p)} = ${short(v)}`, body: base, fields: [fieldOfValue(p)] };
    },
  ],
  [
    15,
    'invalid value at a known path (maybe absent)',
    (rng, base) => {
      const p = rng.pick(SETTABLE);
      const kind = kindAt(p)!;
      // A section replaced whole drops what other mutations rely on; fine: it is invalid itself.
      const v = invalidValue(rng, kind, isRandom(base));
      if (v === undefined) return undefined;
      // Without earlyStopping in the body, any of its fields lacks the rule that says which it is.
      const fields = p[0] === 'earlyStopping' && !base.earlyStopping ? [fieldOfValue(p), 'earlyStopping.rule'] : [fieldOfValue(p)];
      setAt(base, p, v);
      return { desc: `${dotted(p)} = ${short(v)}`, body: base, fields };
    },
  ],
  [
    12,
    'unknown field',
    (rng, base) => {
      const p = rng.pick(objectPaths(base));
      const key = rng.chance(0.7) ? rng.pick(JUNK_KEYS) : rng.str(rng.range(1, rng.chance(0.1) ? 5000 : 20));
      if (p.length === 0 && key.trim() === '') return undefined;
      if (Object.prototype.hasOwnProperty.call(getAt(base, p) as object, key)) return undefined;
      // A key that is a real field of that object would not be unknown.
      if (kindAt([...p, key]) || (p.length === 2 && p[1] === 'perVariant' && Object.hasOwn(KNOBS, key))) return undefined;
      const value = rng.chance(0.2) ? deepJunk(rng, rng.range(10, 2000)) : rng.pick([1, 'x', null, true, {}, [], { a: [1] }]);
      setAt(base, [...p, key], value);
      return { desc: `unknown ${dotted([...p, key]).slice(0, 80)}`, body: base, fields: [dotted([...p, key])] };
    },
  ],
  [
    8,
    'required field deleted',
    (rng, base) => {
      const required: Path[] = [['baseModel'], ['dataset'], ['variants']];
      const es = base.earlyStopping as Record<string, unknown> | undefined;
      if (es) required.push(['earlyStopping', 'rule']);
      if (es?.rule === 'asha') required.push(['earlyStopping', 'minSteps']);
      for (const p of paths(base)) {
        if (kindAt(p)?.t === 'numAxis') {
          const v = getAt(base, p);
          if (v && typeof v === 'object' && !Array.isArray(v)) required.push([...p, 'dist'], [...p, 'min'], [...p, 'max']);
        }
      }
      if (isRandom(base)) required.push(['search', 'trials']);
      const p = rng.pick(required);
      deleteAt(base, p);
      // A distribution's min/max/dist: the axis is named (a missing bound is reported on it).
      const isDist = ['dist', 'min', 'max'].includes(String(p[p.length - 1])) && p[0] === 'searchSpace';
      return { desc: `delete ${dotted(p)}`, body: base, fields: [isDist ? dotted(p.slice(0, -1)) : dotted(p)] };
    },
  ],
  [10, 'cross-field', (rng, base) => crossField(rng, base)],
  [
    1,
    'huge string',
    (rng, base) => {
      const p = rng.pick<Path>([
        ['baseModel'],
        ['dataset'],
        ['name'],
        ['variants', 0],
        ['searchSpace', 'targetModules', 0, 0],
        ['training', 'schedule'],
      ]);
      const s = `${rng.str(rng.range(20_000, 200_000), 'abcdefghij ')} x`;
      if (p[1] === 'targetModules') setAt(base, ['searchSpace', 'targetModules'], [[s]]);
      else setAt(base, p, s);
      return { desc: `${dotted(p)} = <${s.length} chars>`, body: base, fields: [dotted(p)] };
    },
  ],
  [
    2,
    'whole body replaced',
    (rng) => {
      const v = rng.pick<unknown>([[], [VALID_BODIES.minimal()], {}, deepJunk(rng, rng.range(10, 3000)), { '': 1 }]);
      const body = v as Record<string, unknown>;
      const fields = Array.isArray(v) ? ['(body)'] : ['baseModel', 'dataset', 'variants', '(body)'];
      return { desc: `body = ${short(v)}`, body, fields };
    },
  ],
];

/** The field a value mutation is reported on. */
function fieldOfValue(p: Path): string {
  // A distribution's bounds are checked together: min > max is reported on max, and so on.
  const last = p[p.length - 1];
  if (['min', 'max', 'q', 'dist'].includes(String(last)) && kindAt(p)?.t === 'distField') return dotted(p.slice(0, -1));
  return dotted(p);
}

function crossField(rng: FuzzRng, base: Record<string, unknown>): Mutated | undefined {
  const training = (base.training ?? {}) as Record<string, unknown>;
  const steps = (training.steps as number | undefined) ?? 100;
  const pick = rng.int(16);
  switch (pick) {
    case 0:
      setAt(base, ['training', 'warmupSteps'], steps + rng.int(10));
      return { desc: 'warmupSteps >= steps', body: base, fields: ['training.warmupSteps'] };
    case 1: // random search without trials
      setAt(base, ['search'], { method: 'random', seed: rng.int(100) });
      return { desc: 'random without trials', body: base, fields: ['search.trials'] };
    case 2:
      setAt(base, ['search'], { method: 'grid', trials: rng.range(1, 8) });
      return { desc: 'grid with trials', body: base, fields: ['search.trials'] };
    case 3: {
      if (isRandom(base)) return undefined;
      const axis = rng.pick(['r', 'alpha', 'lr', 'dropout']);
      setAt(base, ['searchSpace', axis], axis === 'r' ? { dist: 'intUniform', min: 1, max: 4 } : { dist: 'uniform', min: 0.1, max: 0.5 });
      return { desc: `distribution on ${axis} in a grid`, body: base, fields: [`searchSpace.${axis}`] };
    }
    case 4:
      setAt(base, ['search'], { method: 'random', trials: 50 });
      setAt(base, ['budget'], { maxTrials: rng.range(1, 49) });
      return { desc: 'trials > maxTrials', body: base, fields: ['search.trials'] };
    case 5: {
      if (isRandom(base)) return undefined;
      const n = rng.range(65, 400);
      setAt(base, ['budget'], { maxTrials: 64 });
      setAt(
        base,
        ['searchSpace', 'r'],
        Array.from({ length: n }, (_, i) => i + 1),
      );
      return { desc: `grid of ${n} > maxTrials`, body: base, fields: ['budget.maxTrials'] };
    }
    case 6: {
      // A grid whose product is astronomically large: must be refused by counting, not building.
      if (isRandom(base)) return undefined;
      const k = rng.range(8, 30);
      const vals = (f: (i: number) => number) => Array.from({ length: k }, (_, i) => f(i));
      setAt(base, ['variants'], ['adalora']);
      setAt(base, ['searchSpace', 'r'], [64]);
      setAt(base, ['searchSpace', 'perVariant', 'adalora'], {
        targetR: vals((i) => i + 1),
        tinit: vals((i) => i),
        tfinal: vals((i) => i),
        deltaT: vals((i) => i + 1),
        beta1: vals((i) => i / 100),
        beta2: vals((i) => i / 100),
        orthRegWeight: vals((i) => i / 10),
      });
      return { desc: `adalora knob grid ${k}^7`, body: base, fields: ['budget.maxTrials'] };
    }
    case 7: {
      const random = isRandom(base);
      setAt(base, ['variants'], ['adalora']);
      const r = rng.range(1, 16);
      setAt(base, ['searchSpace', 'r'], random ? { dist: 'intUniform', min: r, max: r + 8 } : [r]);
      setAt(base, ['searchSpace', 'perVariant', 'adalora'], { targetR: [r + 1 + rng.int(8)] });
      setAt(base, ['budget'], { maxTrials: 64 });
      return { desc: 'adalora targetR > r', body: base, fields: ['searchSpace.perVariant.adalora.targetR'] };
    }
    case 8: {
      // Random search over adalora with a very long r list (one value below targetR).
      setAt(base, ['variants'], ['adalora']);
      setAt(base, ['search'], { method: 'random', trials: 2 });
      setAt(base, ['budget'], { maxTrials: 8 });
      const n = rng.range(150_000, 200_000);
      const r = Array.from({ length: n }, () => 8);
      r[rng.int(n)] = 2;
      setAt(base, ['searchSpace'], { r, perVariant: { adalora: { targetR: [4] } } });
      return { desc: `random adalora, r list of ${n}`, body: base, fields: ['searchSpace.perVariant.adalora.targetR'] };
    }
    case 9:
      setAt(base, ['training', 'seqLen'], rng.range(129, 8192));
      return { desc: 'seqLen beyond the model context', body: base, fields: ['training.seqLen'] };
    case 10:
      setAt(base, ['searchSpace', 'targetModules'], [[rng.pick(UNKNOWN_MODULES)]]);
      return { desc: 'unknown target module', body: base, fields: ['searchSpace.targetModules.0.0'] };
    case 11:
      setAt(base, ['training', 'evalEvery'], 0);
      setAt(base, ['earlyStopping'], rng.chance(0.5) ? { rule: 'median' } : { rule: 'asha', minSteps: 1 });
      return { desc: 'earlyStopping without evals', body: base, fields: ['training.evalEvery'] };
    case 12: {
      setAt(base, ['training'], { steps: 100, evalEvery: 10 });
      setAt(base, ['earlyStopping'], { rule: 'asha', minSteps: 10 * rng.range(1, 8) + rng.range(1, 9) });
      return { desc: 'asha minSteps not a multiple of evalEvery', body: base, fields: ['earlyStopping.minSteps'] };
    }
    case 13: {
      setAt(base, ['training'], { steps: 20, evalEvery: 5 });
      setAt(base, ['earlyStopping'], { rule: 'asha', minSteps: 5 * rng.range(4, 10) });
      return { desc: 'asha minSteps >= steps', body: base, fields: ['earlyStopping.minSteps'] };
    }
    case 14: {
      setAt(base, ['training'], { steps: 100, evalEvery: 5 });
      const min = 5 * rng.range(1, 10);
      setAt(base, ['earlyStopping'], { rule: 'asha', minSteps: min, maxSteps: min - rng.int(min) });
      return { desc: 'asha maxSteps <= minSteps', body: base, fields: ['earlyStopping.maxSteps'] };
    }
    default: {
      setAt(base, ['earlyStopping'], {
        rule: 'median',
        ...rng.pick([{ minSteps: 5 }, { reductionFactor: 3 }, { maxSteps: 10 }, { metric: 'loss' }, { minTrials: 0 }]),
      });
      if (training.evalEvery === undefined || training.evalEvery === 0) setAt(base, ['training', 'evalEvery'], 1);
      const es = base.earlyStopping as Record<string, unknown>;
      const key = Object.keys(es).find((k) => k !== 'rule')!;
      return { desc: `median with ${key}`, body: base, fields: [`earlyStopping.${key}`] };
    }
  }
}

function short(v: unknown): string {
  const s = serialize(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…(${s.length})` : s;
}

export function sweepBodyCase(rng: FuzzRng): FuzzCase {
  const total = mutations.reduce((a, [w]) => a + w, 0);
  for (;;) {
    const baseName = rng.pick(Object.keys(VALID_BODIES));
    const base = clone(VALID_BODIES[baseName]());
    let x = rng.next() * total;
    const [, family, m] = mutations.find(([w]) => (x -= w) < 0) ?? mutations[0];
    const r = m(rng, base, baseName);
    if (!r) continue;
    const body = typeof r.body === 'string' ? r.body : serialize(r.body);
    const tooLarge = Buffer.byteLength(body) > 1024 * 1024;
    return {
      family: `body: ${family}`,
      desc: `[${baseName}] ${r.desc}`,
      method: 'POST',
      url: '/sweeps',
      body,
      headers: { 'content-type': 'application/json' },
      status: tooLarge ? [413] : [400],
      fields: tooLarge ? undefined : r.fields,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Raw bodies, ids, query strings

export function rawBodyCase(rng: FuzzRng): FuzzCase {
  const valid = serialize(VALID_BODIES[rng.pick(Object.keys(VALID_BODIES))]());
  const c = (desc: string, body: string | undefined, headers: Record<string, string>, status?: number[], fields?: string[]): FuzzCase => ({
    family: 'raw body',
    desc,
    method: 'POST',
    url: '/sweeps',
    body,
    headers,
    status,
    fields,
  });
  const json = { 'content-type': 'application/json' };
  switch (rng.int(14)) {
    case 0:
      return c('truncated JSON', valid.slice(0, rng.range(0, valid.length - 1)), json, [400]);
    case 1:
      return c(
        'not JSON',
        rng.pick(['hello', '<xml/>', 'baseModel=x', "{'a':1}", '{"a":1,}', 'NaN', '{"a":01}', rng.str(200)]),
        json,
        [400],
      );
    case 2:
      return c('JSON scalar', rng.pick(['null', '5', '"x"', 'true', '-0', '1e400']), json, [400]);
    case 3:
      return c('JSON array', rng.pick(['[]', `[${valid}]`, '[1,2]', '[null]']), json, [400], ['(body)']);
    case 4:
      return c('empty body', '', json, [400], ['baseModel', '(body)']);
    case 5:
      return c('no body', undefined, json, [400], ['baseModel', '(body)']);
    case 6:
      return c(
        'wrong content-type',
        valid,
        { 'content-type': rng.pick(['text/plain', 'application/octet-stream', 'text/html', 'application/xml', 'image/png']) },
        [400, 415],
        ['baseModel', '(body)'],
      );
    case 7:
      return c(
        'form body',
        `baseModel=${MODEL}&dataset=${DATA}&variants=lora`,
        { 'content-type': 'application/x-www-form-urlencoded' },
        [400, 415],
      );
    case 8:
      return c('multipart', `--b\r\ncontent-disposition: form-data; name="baseModel"\r\n\r\nx\r\n--b--\r\n`, {
        'content-type': 'multipart/form-data; boundary=b',
      });
    case 9: {
      // (Rarer than the others: each one sends a megabyte.)
      if (rng.chance(0.6)) return c('truncated JSON', valid.slice(0, rng.range(0, valid.length - 1)), json, [400]);
      const pad = 'x'.repeat(1024 * 1024 + rng.int(20_000));
      return c('body over 1 MB', `{"baseModel":"${MODEL}","dataset":"${DATA}","variants":["lora"],"name":"${pad}"}`, json, [413]);
    }
    case 10:
      return c(
        'unsupported charset',
        valid,
        { 'content-type': rng.pick(['application/json; charset=klingon', 'application/json; charset=x-none']) },
        [415],
      );
    case 11:
      return c(
        'bad gzip',
        'not gzip at all',
        { ...json, 'content-encoding': rng.pick(['gzip', 'deflate', 'br', 'zstd-nope']) },
        [400, 415],
      );
    case 12:
      return c('deeply nested JSON', '['.repeat(rng.range(1000, 100_000)), json, [400]);
    default:
      return rng.chance(0.5)
        ? c('raw control byte in a JSON string', `{"baseModel":"\u0000","dataset":"${DATA}","variants":["lora"]}`, json, [400])
        : c('NUL escape in a JSON string', `{"baseModel":"\\u0000","dataset":"${DATA}","variants":["lora"]}`, json, [400], ['baseModel']);
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

function randomUuid(rng: FuzzRng): string {
  const h = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[rng.int(16)]).join('');
  return `${h(8)}-${h(4)}-4${h(3)}-${'89ab'[rng.int(4)]}${h(3)}-${h(12)}`;
}

function badId(rng: FuzzRng): string {
  const u = randomUuid(rng);
  return rng.pick<() => string>([
    () => 'not-a-uuid',
    () => '123',
    () => '0',
    () => '-1',
    () => 'null',
    () => 'undefined',
    () => 'true',
    () => u.replace(/-/g, ''),
    () => `${u}0`,
    () => u.slice(0, -1),
    () => `{${u}}`,
    () => `${u}%20`,
    () => `%20${u}`,
    () => u.replace(/-/g, '_'),
    () => `${u.slice(0, 14)}g${u.slice(15)}`,
    () => "' OR 1=1 --",
    () => '%00',
    () => '%20',
    () => '%2F',
    () => '%ZZ',
    () => '%E0%A4%A',
    () => '%',
    () => 'ünïcödé',
    () => '漢字',
    () => '🙂',
    () => 'a'.repeat(rng.range(37, 4000)),
    () => encodeURIComponent(rng.str(rng.range(1, 60))),
    () => '...',
    () => '$where',
    () => '[object Object]',
  ])();
}

const ID_ROUTES: Array<{ method: 'GET' | 'POST'; path: (id: string) => string; body?: string }> = [
  { method: 'GET', path: (id) => `/sweeps/${id}` },
  { method: 'GET', path: (id) => `/sweeps/${id}/leaderboard` },
  { method: 'GET', path: (id) => `/sweeps/${id}/events` },
  { method: 'POST', path: (id) => `/sweeps/${id}/cancel` },
  { method: 'POST', path: (id) => `/sweeps/${id}/rerun-failed` },
  { method: 'GET', path: (id) => `/trials/${id}` },
  { method: 'GET', path: (id) => `/trials/${id}/metrics` },
  { method: 'GET', path: (id) => `/trials/${id}/checkpoints` },
  { method: 'GET', path: (id) => `/trials/${id}/importance` },
  { method: 'GET', path: (id) => `/trials/${id}/rank-budget` },
  { method: 'GET', path: (id) => `/trials/${id}/logs` },
  { method: 'POST', path: (id) => `/trials/${id}/cancel` },
  { method: 'POST', path: (id) => `/trials/${id}/rerun` },
  { method: 'POST', path: (id) => `/trials/${id}/replan`, body: '{"threshold":0.5}' },
  { method: 'GET', path: (id) => `/checkpoints/${id}/download` },
];

export function idCase(rng: FuzzRng): FuzzCase {
  const route = rng.pick(ID_ROUTES);
  const unknown = rng.chance(0.25);
  let id = unknown ? randomUuid(rng) : badId(rng);
  if (!unknown && UUID_RE.test(id)) id = 'x';
  const headers: Record<string, string> = route.body ? { 'content-type': 'application/json' } : {};
  return {
    family: unknown ? 'id: unknown' : 'id: malformed',
    desc: `${route.method} ${route.path(id).slice(0, 100)}`,
    method: route.method,
    url: route.path(id),
    body: route.body,
    headers,
    // Malformed: 400 naming the id (a path that cannot even be decoded: 400 too).
    status: unknown ? [404] : [400],
    fields: unknown || /%(?![0-9A-F]{2})|%E0%A4%A$/i.test(id) ? undefined : ['id'],
  };
}

export interface RealIds {
  sweepId: string;
  trialId: string;
}

export function queryCase(rng: FuzzRng, ids: RealIds): FuzzCase {
  // [route, param, guaranteed-invalid values]; strict routes also refuse unknown params.
  const q = (
    path: string,
    param: string,
    values: string[],
    strict: boolean,
  ): { path: string; param: string; values: string[]; strict: boolean } => ({ path, param, values, strict });
  const intBad = (lo: number, hi?: number) => [
    String(lo - 1),
    String(lo - 1000),
    `${lo}.5`,
    'abc',
    'NaN',
    'Infinity',
    '-Infinity',
    '1e400',
    ...(hi !== undefined ? [String(hi + 1), String(hi * 10), '1e15'] : []),
    '9007199254740993',
  ];
  const specs = [
    q('/sweeps', 'take', ['0', ...intBad(1, 500), ''], false),
    q('/sweeps', 'skip', ['-1', '-0.5', '1.5', 'abc', 'NaN', 'Infinity', '1e400', '9007199254740993'], false),
    q(`/sweeps/${ids.sweepId}/leaderboard`, 'take', [...intBad(1, 1000), ''], true),
    q(`/sweeps/${ids.sweepId}/leaderboard`, 'metric', ['', 'loss', 'eval_loss ', 'EVAL_LOSS', 'finalEvalLoss', "'; --"], true),
    q(`/sweeps/${ids.sweepId}/leaderboard`, 'mode', ['', 'asc', 'desc', 'MIN', 'up'], true),
    q(`/trials/${ids.trialId}/metrics`, 'take', [...intBad(1, 100_000), ''], true),
    q(`/trials/${ids.trialId}/metrics`, 'afterStep', ['-2', '-1000', '1.5', 'abc', 'NaN', 'Infinity', '1e400', '9007199254740993'], true),
    q(`/trials/${ids.trialId}/metrics`, 'split', ['', 'test', 'TRAIN', 'train '], true),
    q(`/trials/${ids.trialId}/metrics`, 'name', ['x'.repeat(101), 'y'.repeat(5000)], true),
    q(`/trials/${ids.trialId}/logs`, 'afterId', ['', 'abc', '-1', '1.5', '1'.repeat(19), '1'.repeat(40), '0x10', ' 1'], true),
    q(`/trials/${ids.trialId}/logs`, 'take', [...intBad(1, 10_000), ''], true),
    q(`/checkpoints/${randomUuid(rng)}/download`, 'format', ['', 'zip', 'PEFT', 'merged ', 'safetensors'], true),
    q(`/checkpoints/${randomUuid(rng)}/download`, 'file', ['', 'x', '../etc/passwd', 'adapter_model.bin', 'ZIP'], true),
  ];
  // Well-formed but extreme values: a page past the end, or 400 naming the parameter; never 5xx.
  if (rng.chance(0.1)) {
    const [path, param, value] = rng.pick<[string, string, string]>([
      ['/sweeps', 'skip', rng.pick(['2147483647', '2147483648', '9007199254740991', '1e15'])],
      [`/trials/${ids.trialId}/metrics`, 'afterStep', rng.pick(['2147483647', '2147483648', '9007199254740991', '1e15'])],
      [`/trials/${ids.trialId}/metrics`, 'name', rng.pick(['%00', 'a%00b', '%C3%28', '%F0%9F%99%82', '%27%3B--'])],
      [`/trials/${ids.trialId}/logs`, 'afterId', rng.pick(['999999999999999999', '0', '000000000000000000'])],
    ]);
    const enc = param === 'name' ? value : encodeURIComponent(value);
    return {
      family: 'query (extreme)',
      desc: `GET ${path}?${param}=${enc}`,
      method: 'GET',
      url: `${path}?${param}=${enc}`,
      status: [200, 400],
      fields: [param],
    };
  }
  const s = rng.pick(specs);
  let query: string;
  let field = s.param;
  const form = rng.int(10);
  if (form < 6) query = `${s.param}=${encodeURIComponent(rng.pick(s.values))}`;
  else if (form < 8) query = `${s.param}=${encodeURIComponent(rng.pick(s.values))}&${s.param}=1`;
  else if (s.strict && form === 8) {
    field = rng.pick(['foo', 'Take', 'take ', 'limit', 'offset', 'cursor', 'skip', 'page']);
    if (field === s.param) field = 'zzz';
    query = `${encodeURIComponent(field)}=1`;
  } else query = `${s.param}=${encodeURIComponent(rng.pick(s.values))}&${s.param}=${encodeURIComponent(rng.pick(s.values))}`;
  return {
    family: 'query',
    desc: `GET ${s.path}?${query.slice(0, 80)}`,
    method: 'GET',
    url: `${s.path}?${query}`,
    status: [400],
    fields: [field],
  };
}

export function replanBodyCase(rng: FuzzRng, ids: RealIds): FuzzCase {
  const [value, fields] = rng.pick<[unknown, string[]]>([
    [{}, ['threshold']],
    [{ threshold: 0.5, topN: 2 }, ['threshold', 'topN']],
    [{ threshold: 0 }, ['threshold']],
    [{ threshold: 1.5 }, ['threshold']],
    [{ threshold: '0.5' }, ['threshold']],
    [{ threshold: null }, ['threshold']],
    [{ topN: 0 }, ['topN']],
    [{ topN: 1.5 }, ['topN']],
    [{ topN: '2' }, ['topN']],
    [{ topN: -1 }, ['topN']],
    [{ topN: 2, foo: 1 }, ['foo']],
    [[], ['(body)']],
    [{ threshold: [0.5] }, ['threshold']],
    [{ threshold: RAW('1e400') }, ['threshold']],
  ]);
  return {
    family: 'replan body',
    desc: `POST replan ${short(value)}`,
    method: 'POST',
    url: `/trials/${ids.trialId}/replan`,
    body: serialize(value),
    headers: { 'content-type': 'application/json' },
    status: [400],
    fields,
  };
}

export function idempotencyHeaderCase(rng: FuzzRng): FuzzCase {
  const key = rng.pick(['has space', 'x'.repeat(rng.range(201, 2000)), 'tab\tkey', 'caf\u00e9', '"quoted"x y']);
  return {
    family: 'idempotency header',
    desc: `Idempotency-Key ${JSON.stringify(key.slice(0, 30))}`,
    method: 'POST',
    url: '/sweeps',
    body: serialize(VALID_BODIES.minimal()),
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    status: [400],
    fields: ['Idempotency-Key'],
  };
}

/** `n` cases in a fixed mix: mostly sweep bodies, then ids, query strings and raw bodies. */
export function generateCases(seed: number, n: number, ids: RealIds): FuzzCase[] {
  const rng = new FuzzRng(seed);
  const out: FuzzCase[] = [];
  while (out.length < n) {
    const x = rng.next();
    if (x < 0.62) out.push(sweepBodyCase(rng));
    else if (x < 0.77) out.push(idCase(rng));
    else if (x < 0.87) out.push(queryCase(rng, ids));
    else if (x < 0.95) out.push(rawBodyCase(rng));
    else if (x < 0.98) out.push(replanBodyCase(rng, ids));
    else out.push(idempotencyHeaderCase(rng));
  }
  return out;
}

/**
 * Whether a 400's error field names the mutated one: the same path, or a path under it (an
 * invalid list is reported on its bad item: "searchSpace.r" → "searchSpace.r.0"). Unknown keys
 * come as one comma-separated field ("a.x, a.y"), each checked.
 */
export function namesField(reported: string, expected: string): boolean {
  const under = (f: string) => f === expected || (expected !== '(body)' && f.startsWith(`${expected}.`));
  return under(reported) || reported.split(', ').some(under);
}

export { ALL_VARIANTS };

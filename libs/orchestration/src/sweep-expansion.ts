// Turns a validated sweep spec into its trials.
// - grid (default): for each variant, the product of the common axes × that variant's own knob
//   axes, in a stable order (same spec → same trial indexes).
// - random: `search.trials` points sampled from `search.seed`; variants take turns (trial i
//   trains variants[i mod n], so each variant gets an equal share ±1), and each axis is drawn
//   from its list (uniform choice) or its distribution.
// Either way each trial's hyperparams are concrete values (TrialHyperparams, the stored shape).
import {
  type Distribution,
  isDistribution,
  knobAxes,
  quantizedRange,
  type SweepSpec,
  type TrialHyperparams,
  type VariantName,
} from '@lora/contracts';
import { Rng } from '@lora/engine/io';

export interface PlannedTrial {
  index: number;
  variant: VariantName;
  hyperparams: TrialHyperparams;
}

export class SweepExpansionError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type Axis = unknown[] | Distribution;

/** Cartesian product, last axis varying fastest (like nested for-loops in declaration order). */
function product<T>(axes: T[][]): T[][] {
  return axes.reduce<T[][]>((acc, axis) => acc.flatMap((prefix) => axis.map((v) => [...prefix, v])), [[]]);
}

const COMMON = ['r', 'alpha', 'lr', 'dropout', 'targetModules', 'rslora'] as const;

function commonAxes(spec: SweepSpec): Array<[field: string, axis: Axis]> {
  const s = spec.searchSpace;
  return COMMON.map((name) => [`searchSpace.${name}`, s[name] as Axis]);
}

function knobAxesOf(spec: SweepSpec, variant: VariantName): Array<[name: string, axis: Axis]> {
  return Object.entries(knobAxes(variant, spec.searchSpace.perVariant[variant])).filter(([, v]) => v !== undefined);
}

/** A grid axis must be a list (the schema already refuses distributions outside random search). */
function list(axis: Axis, field: string): unknown[] {
  if (isDistribution(axis)) throw new SweepExpansionError(field, 'distributions need search.method = random');
  return axis;
}

function knobGrid(spec: SweepSpec, variant: VariantName): Array<Record<string, unknown>> {
  const axes = knobAxesOf(spec, variant);
  return product(axes.map(([name, axis]) => list(axis, `searchSpace.perVariant.${variant}.${name}`))).map((point) =>
    Object.fromEntries(point.map((v, i) => [axes[i][0], v])),
  );
}

export function countGrid(spec: SweepSpec): number {
  // Counted from the axis lengths, never by building the grid: a body of a few KB can describe
  // a grid of 10^12 points, which must be refused (budget.maxTrials), not materialised.
  const common = commonAxes(spec).reduce((n, [field, a]) => n * list(a, field).length, 1);
  const knobCount = (v: VariantName) =>
    knobAxesOf(spec, v).reduce((n, [name, a]) => n * list(a, `searchSpace.perVariant.${v}.${name}`).length, 1);
  return spec.variants.reduce((n, v) => n + common * knobCount(v as VariantName), 0);
}

/** How many trials the spec expands to (grid: the product; random: search.trials). */
export function countTrials(spec: SweepSpec): number {
  return spec.search?.method === 'random' ? (spec.search.trials ?? 0) : countGrid(spec);
}

function makeHyperparams(spec: SweepSpec, variant: VariantName, common: unknown[], knobs: Record<string, unknown>): TrialHyperparams {
  const [r, alpha, lr, dropout, targetModules, rslora] = common;
  return {
    variant,
    r: r as number,
    alpha: alpha as number,
    lr: lr as number,
    // Delta-LoRA has no dropout on the adapter branch (its W update assumes the plain product).
    dropout: variant === 'deltalora' ? 0 : (dropout as number),
    targetModules: [...(targetModules as string[])],
    rslora: rslora as boolean,
    knobs,
    training: { ...spec.training },
  };
}

function adaloraRankError(targetR: unknown, r: unknown): SweepExpansionError {
  return new SweepExpansionError(
    'searchSpace.perVariant.adalora.targetR',
    `AdaLoRA's targetR (${targetR}) must not exceed its initial rank r (${r}); lower targetR or raise r`,
  );
}

export function expandGrid(spec: SweepSpec): PlannedTrial[] {
  const total = countGrid(spec);
  if (total > spec.budget.maxTrials) {
    throw new SweepExpansionError(
      'budget.maxTrials',
      `the grid has ${total} trials, more than budget.maxTrials (${spec.budget.maxTrials}); raise the budget or shrink the search space`,
    );
  }
  const common = product(commonAxes(spec).map(([field, a]) => list(a, field)));
  const out: PlannedTrial[] = [];
  for (const v of spec.variants) {
    const variant = v as VariantName;
    for (const point of common) {
      for (const knobs of knobGrid(spec, variant)) {
        if (variant === 'adalora' && (knobs.targetR as number) > (point[0] as number)) throw adaloraRankError(knobs.targetR, point[0]);
        out.push({ index: out.length, variant, hyperparams: makeHyperparams(spec, variant, point, knobs) });
      }
    }
  }
  return out;
}

/** One draw from an axis: a uniform choice from a list, or a sample of a distribution. */
export function sampleAxis(rng: Rng, axis: Axis): unknown {
  if (!isDistribution(axis)) {
    const v = axis[rng.int(axis.length)];
    return Array.isArray(v) ? [...v] : v;
  }
  const { min, max } = axis;
  switch (axis.dist) {
    case 'uniform':
      return min + (max - min) * rng.next();
    case 'logUniform':
      return Math.exp(Math.log(min) + (Math.log(max) - Math.log(min)) * rng.next());
    case 'intUniform':
      return min + rng.int(max - min + 1);
    case 'qLogUniform': {
      const q = axis.q ?? 1;
      const [lo, hi] = quantizedRange(axis);
      const x = Math.exp(Math.log(min) + (Math.log(max) - Math.log(min)) * rng.next());
      const v = Math.min(hi, Math.max(lo, Math.round(x / q) * q));
      // Multiples of a fractional q carry float noise (0.1 * 3 = 0.30000000000000004).
      return Number.isInteger(q) ? Math.round(v) : Number(v.toPrecision(12));
    }
  }
}

/** Smallest / largest value an axis can produce (numeric axes). */
function bounds(axis: Axis): [number, number] {
  if (!isDistribution(axis)) {
    // A loop, not Math.min(...values): a list of ~10^5 values overflows the call stack.
    const values = axis as number[];
    return values.reduce<[number, number]>(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
  }
  return axis.dist === 'qLogUniform' ? quantizedRange(axis) : [axis.min, axis.max];
}

/**
 * Random search: `search.trials` trials from `search.seed`. One Rng stream, consumed in a fixed
 * order: for trial i = 0, 1, …: r, alpha, lr, dropout, targetModules, rslora, then the variant's
 * knobs in their declared order (one draw per axis, also for single-value lists). So the same
 * seed gives the same trials, and asking for more trials keeps the first ones.
 */
export function expandRandom(spec: SweepSpec): PlannedTrial[] {
  const n = spec.search?.trials;
  if (spec.search?.method !== 'random' || n === undefined) {
    throw new SweepExpansionError('search.trials', 'is required for search.method = random (how many trials to sample)');
  }
  if (n > spec.budget.maxTrials) {
    throw new SweepExpansionError(
      'search.trials',
      `search.trials (${n}) is more than budget.maxTrials (${spec.budget.maxTrials}); raise the budget or sample fewer trials`,
    );
  }
  const common = commonAxes(spec);
  const knobs = new Map(spec.variants.map((v) => [v, knobAxesOf(spec, v as VariantName)]));
  if (spec.variants.includes('adalora')) {
    // Checked on the ranges, not the draws: whether a spec is valid must not depend on the seed.
    const targetR = knobs.get('adalora')!.find(([name]) => name === 'targetR')![1];
    const [, maxTarget] = bounds(targetR);
    const [minR] = bounds(spec.searchSpace.r as Axis);
    if (maxTarget > minR) throw adaloraRankError(maxTarget, minR);
  }
  const rng = new Rng(spec.search.seed);
  const out: PlannedTrial[] = [];
  for (let i = 0; i < n; i++) {
    const variant = spec.variants[i % spec.variants.length] as VariantName;
    const point = common.map(([, axis]) => sampleAxis(rng, axis));
    const k = Object.fromEntries(knobs.get(variant)!.map(([name, axis]) => [name, sampleAxis(rng, axis)]));
    out.push({ index: i, variant, hyperparams: makeHyperparams(spec, variant, point, k) });
  }
  return out;
}

/** The spec's trials: expandGrid or expandRandom by `search.method`. */
export function expandSweep(spec: SweepSpec): PlannedTrial[] {
  return spec.search?.method === 'random' ? expandRandom(spec) : expandGrid(spec);
}

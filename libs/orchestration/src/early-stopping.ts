// Early stopping as pure functions over eval-loss curves: the worker reads the curves of the
// sweep's trials (MetricRepository.curvesForSweep), calls decide() after each eval of a trial,
// and on `prune` ends the trial as `pruned` with the reason in Trial.prunedReason.
import type { AshaStopping, EarlyStopping, MedianStopping } from '@lora/contracts';

export interface CurvePoint {
  step: number;
  value: number;
}

export interface Decision {
  prune: boolean;
  /** What the rule saw, with its numbers (set for every decision, pruning or not). */
  reason: string;
}

export type MetricMode = 'min' | 'max';

const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A NaN (diverged) value counts as the worst possible one. */
function clean(value: number, mode: MetricMode): number {
  return Number.isNaN(value) ? (mode === 'min' ? Infinity : -Infinity) : value;
}

/** `a` is strictly worse than `b`. */
const worse = (a: number, b: number, mode: MetricMode) => (mode === 'min' ? a > b : a < b);

function sorted(curve: CurvePoint[], upTo: number, mode: MetricMode): CurvePoint[] {
  return curve
    .filter((p) => p.step <= upTo)
    .map((p) => ({ step: p.step, value: clean(p.value, mode) }))
    .sort((a, b) => a.step - b.step);
}

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The q-quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  const h = (v.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  if (lo === hi || v[lo] === v[hi]) return v[lo];
  return v[lo] + (v[hi] - v[lo]) * (h - lo);
}

/**
 * The median stopping rule of Google Vizier (Golovin et al., KDD 2017, §3.2.2), with the
 * definitions of Ray Tune's `MedianStoppingRule` (python/ray/tune/schedulers/median_stopping_rule.py):
 * at step t ≥ graceSteps, compare the trial's best value over all its points up to t with the
 * median, over the other trials that reached t (their last point is at step ≥ t), of each one's
 * running average of its points in [graceSteps, t]; prune when strictly worse. Fewer than
 * minTrials such trials: continue. (A trial whose window [graceSteps, t] holds no point is left
 * out; Ray would average an empty list.)
 */
export function decideMedian(
  rule: MedianStopping,
  trialCurve: CurvePoint[],
  others: CurvePoint[][],
  step: number,
  mode: MetricMode = 'min',
): Decision {
  const metric = rule.metric ?? 'eval_loss';
  if (step < rule.graceSteps)
    return { prune: false, reason: `median rule: step ${step} is before graceSteps ${rule.graceSteps}; continue` };
  const own = sorted(trialCurve, step, mode);
  if (own.length === 0) return { prune: false, reason: `median rule at step ${step}: the trial has no ${metric} yet; continue` };
  const averages: number[] = [];
  for (const curve of others) {
    const points = sorted(curve, Infinity, mode);
    if (points.length === 0 || points[points.length - 1].step < step) continue;
    const window = points.filter((p) => p.step >= rule.graceSteps && p.step <= step);
    if (window.length === 0) continue;
    averages.push(window.reduce((a, p) => a + p.value, 0) / window.length);
  }
  if (averages.length < rule.minTrials) {
    return {
      prune: false,
      reason: `median rule at step ${step}: only ${plural(averages.length, 'other trial')} reached step ${step} (need ${rule.minTrials}); continue`,
    };
  }
  const best = own.reduce((b, p) => (worse(b, p.value, mode) ? p.value : b), own[0].value);
  const m = median(averages);
  const of = `median ${fmt(m)} of the running averages of ${plural(averages.length, 'other trial')}`;
  if (worse(best, m, mode)) {
    return { prune: true, reason: `median rule at step ${step}: best ${metric} ${fmt(best)} ${mode === 'min' ? '>' : '<'} ${of}` };
  }
  return { prune: false, reason: `median rule at step ${step}: best ${metric} ${fmt(best)} is not worse than the ${of}; continue` };
}

/** ASHA's rungs: minSteps·η^k, below maxSteps when given, up to `upTo`. */
export function ashaRungs(rule: AshaStopping, upTo: number): number[] {
  const rungs: number[] = [];
  for (let r = rule.minSteps; r <= upTo && (rule.maxSteps === undefined || r < rule.maxSteps); r *= rule.reductionFactor) rungs.push(r);
  return rungs;
}

/**
 * A curve's value at a rung: its first point at or after the rung, if that point lies before
 * the next rung (a curve that jumps past a rung is judged at the higher one, as in Ray).
 */
function valueAtRung(points: CurvePoint[], rung: number, nextRung: number): CurvePoint | undefined {
  const p = points.find((x) => x.step >= rung);
  return p && p.step < nextRung ? p : undefined;
}

/**
 * Asynchronous successive halving (Li et al., "A System for Massively Parallel Hyperparameter
 * Tuning", MLSys 2020), with the definitions of Ray Tune's `AsyncHyperBandScheduler` (one
 * bracket; python/ray/tune/schedulers/async_hyperband.py): rungs at minSteps·η^k. A trial is
 * judged once per rung, at its first point at or after the rung; it continues only if its value
 * is in the top 1/η of the other trials that have reached that rung so far, i.e. not worse than
 * their 1/η-quantile (linear interpolation; Ray's cutoff is the (1 − 1/η) percentile of
 * rewards = −loss). The first trial at a rung always continues.
 */
export function decideAsha(
  rule: AshaStopping,
  trialCurve: CurvePoint[],
  others: CurvePoint[][],
  step: number,
  mode: MetricMode = 'min',
): Decision {
  const metric = rule.metric ?? 'eval_loss';
  const eta = rule.reductionFactor;
  const rungs = ashaRungs(rule, step);
  if (rungs.length === 0) return { prune: false, reason: `asha: step ${step} is before the first rung (${rule.minSteps}); continue` };
  const k = rungs.length - 1;
  const rung = rungs[k];
  // The next rung, if there is one (beyond maxSteps there is none).
  const nextRung = rule.maxSteps !== undefined && rung * eta >= rule.maxSteps ? Infinity : rung * eta;
  const own = sorted(trialCurve, step, mode);
  const at = valueAtRung(own, rung, nextRung);
  if (!at || at.step !== step) {
    return { prune: false, reason: `asha: step ${step} is not the trial's first ${metric} at rung ${k} (step ${rung}); continue` };
  }
  const values = others.flatMap((c) => valueAtRung(sorted(c, Infinity, mode), rung, nextRung) ?? []).map((p) => p.value);
  const where = `asha rung ${k} (step ${rung}, η=${eta})`;
  if (values.length === 0) return { prune: false, reason: `${where}: the first trial at this rung; continue` };
  const cutoff = quantile(values, mode === 'min' ? 1 / eta : 1 - 1 / eta);
  const among = `the top-1/${eta} cutoff ${fmt(cutoff)} of ${plural(values.length, 'other trial')} at this rung`;
  if (worse(at.value, cutoff, mode)) return { prune: true, reason: `${where}: ${metric} ${fmt(at.value)} is worse than ${among}` };
  return { prune: false, reason: `${where}: ${metric} ${fmt(at.value)} is within ${among}; continue` };
}

/**
 * Whether `rule` prunes a trial after its point at `step`. `trialCurve`: the trial's points;
 * `others`: every other trial's curve in the sweep (finished and pruned ones included, as
 * stored); `mode`: 'min' for eval_loss.
 */
export function decide(
  rule: EarlyStopping,
  trialCurve: CurvePoint[],
  others: CurvePoint[][],
  step: number,
  mode: MetricMode = 'min',
): Decision {
  return rule.rule === 'median' ? decideMedian(rule, trialCurve, others, step, mode) : decideAsha(rule, trialCurve, others, step, mode);
}

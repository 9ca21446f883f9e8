import { AshaSchema, EarlyStoppingSchema, MedianStoppingSchema } from '@lora/contracts';
import { ashaRungs, type CurvePoint, decide, decideAsha, decideMedian, median, quantile } from './early-stopping';

const curve = (...pairs: Array<[number, number]>): CurvePoint[] => pairs.map(([step, value]) => ({ step, value }));
const medianRule = (extra: object = {}) => MedianStoppingSchema.parse({ rule: 'median', ...extra });
const ashaRule = (extra: object = {}) => AshaSchema.parse({ rule: 'asha', minSteps: 10, ...extra });

describe('median and quantile', () => {
  it('median: the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('quantile interpolates linearly between order statistics (numpy default)', () => {
    expect(quantile([4, 1, 3, 2], 1 / 3)).toBeCloseTo(2, 12); // h = 3·1/3 = 1 → the 2nd value
    expect(quantile([1, 4], 1 / 3)).toBeCloseTo(2, 12); // h = 1/3 → 1 + (4 − 1)/3
    expect(quantile([1, 4], 2 / 3)).toBeCloseTo(3, 12);
    expect(quantile([5], 0.25)).toBe(5);
    expect(quantile([1, Infinity], 0)).toBe(1);
  });
});

describe('median stopping rule', () => {
  // Three trials reached step 20; D stopped at step 10.
  const A = curve([0, 3.0], [10, 2.0], [20, 1.0]);
  const B = curve([0, 3.0], [10, 2.4], [20, 2.0]);
  const C = curve([0, 3.0], [10, 2.6], [20, 2.4]);
  const D = curve([0, 3.0], [10, 2.2]);
  const others = [A, B, C, D];

  it('continues a trial whose best is better than the median of the running averages', () => {
    // Running averages over [0, 20]: A (3+2+1)/3 = 2.0, B 7.4/3 = 2.4667, C 8/3 = 2.6667 (D has not reached 20).
    const T = curve([0, 3.0], [10, 2.5], [20, 2.3]);
    const d = decideMedian(medianRule(), T, others, 20);
    expect(d.prune).toBe(false);
    expect(d.reason).toBe(
      'median rule at step 20: best eval_loss 2.300 is not worse than the median 2.467 of the running averages of 3 other trials; continue',
    );
  });
  it('prunes a trial whose best is worse than that median, naming the numbers', () => {
    const T = curve([0, 3.0], [10, 2.8], [20, 2.7]);
    expect(decideMedian(medianRule(), T, others, 20)).toEqual({
      prune: true,
      reason: 'median rule at step 20: best eval_loss 2.700 > median 2.467 of the running averages of 3 other trials',
    });
  });
  it('uses only the points up to the step, and every trial that reached it', () => {
    // At step 10: averages over [0, 10]: A 2.5, B 2.7, C 2.8, D 2.6 → median 2.65; T's best by step 10 is 2.8.
    const T = curve([0, 3.0], [10, 2.8], [20, 1.0]);
    expect(decideMedian(medianRule(), T, others, 10)).toEqual({
      prune: true,
      reason: 'median rule at step 10: best eval_loss 2.800 > median 2.650 of the running averages of 4 other trials',
    });
  });
  it('starts the running averages at graceSteps and never prunes before it', () => {
    const T = curve([0, 3.0], [10, 2.5], [20, 2.3]);
    const rule = medianRule({ graceSteps: 10 });
    expect(decideMedian(rule, T, others, 5)).toEqual({ prune: false, reason: 'median rule: step 5 is before graceSteps 10; continue' });
    // Averages over [10, 20]: A 1.5, B 2.2, C 2.5 → median 2.2 < 2.3: pruned (with graceSteps 0 it was not).
    expect(decideMedian(rule, T, others, 20)).toEqual({
      prune: true,
      reason: 'median rule at step 20: best eval_loss 2.300 > median 2.200 of the running averages of 3 other trials',
    });
  });
  it('needs minTrials other trials at the step', () => {
    const T = curve([0, 3.0], [10, 2.8], [20, 2.7]);
    expect(decideMedian(medianRule({ minTrials: 4 }), T, others, 20)).toEqual({
      prune: false,
      reason: 'median rule at step 20: only 3 other trials reached step 20 (need 4); continue',
    });
    expect(decideMedian(medianRule(), T, [], 20).reason).toMatch(/only 0 other trials reached step 20 \(need 3\)/);
    expect(decideMedian(medianRule({ minTrials: 1 }), T, [A], 20)).toEqual({
      prune: true,
      reason: 'median rule at step 20: best eval_loss 2.700 > median 2.000 of the running averages of 1 other trial',
    });
  });
  it('prunes only when strictly worse', () => {
    // Averages over [0, 20] of three identical curves are 2.0; T's best is exactly 2.0.
    const same = curve([0, 3.0], [10, 2.0], [20, 1.0]);
    expect(decideMedian(medianRule(), curve([0, 3.0], [20, 2.0]), [same, same, same], 20).prune).toBe(false);
    expect(decideMedian(medianRule(), curve([0, 3.0], [20, 2.0001]), [same, same, same], 20).prune).toBe(true);
  });
  it('counts a diverged (NaN) trial as the worst', () => {
    expect(decideMedian(medianRule(), curve([10, NaN], [20, NaN]), others, 20)).toEqual({
      prune: true,
      reason: 'median rule at step 20: best eval_loss Infinity > median 2.467 of the running averages of 3 other trials',
    });
  });
  it('compares the other way for a metric to maximize', () => {
    const neg = (c: CurvePoint[]) => c.map((p) => ({ step: p.step, value: -p.value }));
    const d = decideMedian(medianRule(), neg(curve([0, 3.0], [10, 2.8], [20, 2.7])), others.map(neg), 20, 'max');
    expect(d).toEqual({
      prune: true,
      reason: 'median rule at step 20: best eval_loss -2.700 < median -2.467 of the running averages of 3 other trials',
    });
    expect(decideMedian(medianRule(), neg(curve([20, 2.3])), others.map(neg), 20, 'max').prune).toBe(false);
  });
  it('has no opinion on a trial without points', () => {
    expect(decideMedian(medianRule(), [], others, 20)).toEqual({
      prune: false,
      reason: 'median rule at step 20: the trial has no eval_loss yet; continue',
    });
  });
});

describe('ASHA', () => {
  it('places rungs at minSteps·η^k, below maxSteps', () => {
    expect(ashaRungs(ashaRule(), 1000)).toEqual([10, 30, 90, 270, 810]);
    expect(ashaRungs(ashaRule({ reductionFactor: 2, maxSteps: 80 }), 1000)).toEqual([10, 20, 40]);
    expect(ashaRungs(ashaRule(), 9)).toEqual([]);
  });
  // Four trials reached rung 0 (step 10) with 1, 2, 3, 4: the 1/3-quantile is 2 (h = 3·1/3 = 1).
  const four = [1, 2, 3, 4].map((v) => curve([0, 5], [10, v]));

  it('prunes a trial outside the top 1/η of the trials at the rung', () => {
    expect(decideAsha(ashaRule(), curve([0, 5], [10, 2.5]), four, 10)).toEqual({
      prune: true,
      reason: 'asha rung 0 (step 10, η=3): eval_loss 2.500 is worse than the top-1/3 cutoff 2.000 of 4 other trials at this rung',
    });
  });
  it('promotes a trial inside the top 1/η, the cutoff itself included', () => {
    expect(decideAsha(ashaRule(), curve([0, 5], [10, 1.5]), four, 10).prune).toBe(false);
    expect(decideAsha(ashaRule(), curve([0, 5], [10, 2]), four, 10)).toEqual({
      prune: false,
      reason: 'asha rung 0 (step 10, η=3): eval_loss 2.000 is within the top-1/3 cutoff 2.000 of 4 other trials at this rung; continue',
    });
  });
  it('interpolates the cutoff with few trials (1 and 4 → 2)', () => {
    const two = [curve([10, 1]), curve([10, 4])];
    expect(decideAsha(ashaRule(), curve([10, 2.1]), two, 10).prune).toBe(true);
    expect(decideAsha(ashaRule(), curve([10, 1.9]), two, 10).prune).toBe(false);
    // With η = 2 the cutoff is the median: 2.5.
    expect(decideAsha(ashaRule({ reductionFactor: 2 }), curve([10, 2.4]), two, 10).prune).toBe(false);
    expect(decideAsha(ashaRule({ reductionFactor: 2 }), curve([10, 2.6]), two, 10).reason).toMatch(
      /top-1\/2 cutoff 2.500 of 2 other trials/,
    );
  });
  it('lets the first trial at a rung through', () => {
    expect(decideAsha(ashaRule(), curve([10, 9]), [], 10)).toEqual({
      prune: false,
      reason: 'asha rung 0 (step 10, η=3): the first trial at this rung; continue',
    });
    // Trials that have not reached the rung do not count.
    expect(decideAsha(ashaRule(), curve([10, 9]), [curve([0, 1])], 10).reason).toMatch(/first trial at this rung/);
  });
  it('judges a trial once per rung, at its first point at or after it', () => {
    expect(decideAsha(ashaRule(), curve([0, 5]), four, 0)).toEqual({
      prune: false,
      reason: 'asha: step 0 is before the first rung (10); continue',
    });
    expect(decideAsha(ashaRule(), curve([10, 9], [20, 9]), four, 20)).toEqual({
      prune: false,
      reason: "asha: step 20 is not the trial's first eval_loss at rung 0 (step 10); continue",
    });
    // Evaluated every 25 steps: its point at 25 is its rung-0 point (first at or after 10).
    expect(decideAsha(ashaRule(), curve([0, 5], [25, 9]), four, 25).prune).toBe(true);
  });
  it('compares at a higher rung only with the trials that reached it', () => {
    // Rung 1 = step 30. E and F reached it (0.8, 1.6); G was stopped at rung 0.
    const E = curve([10, 1.0], [20, 0.9], [30, 0.8]);
    const F = curve([10, 2.0], [30, 1.6]);
    const G = curve([10, 3.0]);
    // 1/3-quantile of [0.8, 1.6] = 0.8 + 0.8/3 = 1.0667.
    const T = curve([10, 1.5], [20, 1.4], [30, 1.3]);
    expect(decideAsha(ashaRule(), T, [E, F, G], 30)).toEqual({
      prune: true,
      reason: 'asha rung 1 (step 30, η=3): eval_loss 1.300 is worse than the top-1/3 cutoff 1.067 of 2 other trials at this rung',
    });
    expect(decideAsha(ashaRule(), curve([10, 1.5], [30, 1.0]), [E, F, G], 30).prune).toBe(false);
  });
  it('judges a curve that jumps past a rung at the higher rung only', () => {
    // H's first point at or after 30 is 100 ≥ the next rung (90): it has no rung-1 value.
    const H = curve([10, 0.1], [100, 0.1]);
    const T = curve([10, 1], [30, 1]);
    expect(decideAsha(ashaRule(), T, [H], 30).reason).toMatch(/first trial at this rung/);
    // With maxSteps 90 there is no rung 2, so H's point at 100 is its rung-1 value.
    expect(decideAsha(ashaRule({ maxSteps: 90 }), T, [H], 30).prune).toBe(true);
    // And nothing is judged at or past maxSteps.
    expect(decideAsha(ashaRule({ maxSteps: 90 }), curve([10, 1], [30, 1], [90, 9]), [H], 90).prune).toBe(false);
  });
  it('counts a diverged (NaN) trial as the worst, and compares the other way for max', () => {
    expect(decideAsha(ashaRule(), curve([10, NaN]), four, 10).prune).toBe(true);
    const neg = four.map((c) => c.map((p) => ({ step: p.step, value: -p.value })));
    // Rewards −1…−4: the (1 − 1/3)-quantile is −2; −2.5 is worse.
    expect(decideAsha(ashaRule(), curve([10, -2.5]), neg, 10, 'max').prune).toBe(true);
    expect(decideAsha(ashaRule(), curve([10, -1.5]), neg, 10, 'max').prune).toBe(false);
  });
});

describe('decide', () => {
  it('dispatches on the rule of a parsed sweep spec', () => {
    const others = [1, 2, 3, 4].map((v) => curve([10, v]));
    const byMedian = EarlyStoppingSchema.parse({ rule: 'median', minTrials: 2 });
    const byAsha = EarlyStoppingSchema.parse({ rule: 'asha', minSteps: 10 });
    // Median of the averages 1..4 is 2.5: 2.6 is worse; ASHA's 1/3 cutoff is 2: 2.6 is worse too; 2.2 splits them.
    expect(decide(byMedian, curve([10, 2.6]), others, 10).prune).toBe(true);
    expect(decide(byAsha, curve([10, 2.6]), others, 10).prune).toBe(true);
    expect(decide(byMedian, curve([10, 2.2]), others, 10).prune).toBe(false);
    expect(decide(byAsha, curve([10, 2.2]), others, 10).prune).toBe(true);
  });
});

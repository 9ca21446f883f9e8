// Search-space axes: a list of values (grid: every value; random: uniform choice) or, for
// numeric axes of a random search, a distribution to sample from.
import { z } from 'zod';

export const DISTRIBUTIONS = ['uniform', 'logUniform', 'intUniform', 'qLogUniform'] as const;
export type DistributionName = (typeof DISTRIBUTIONS)[number];

/**
 * - `uniform`: a float in [min, max)
 * - `logUniform`: exp of a uniform in [ln min, ln max) (learning rates); min > 0
 * - `intUniform`: an integer in [min, max], both ends included; min and max integers
 * - `qLogUniform`: logUniform rounded to a multiple of `q` (default 1) inside [min, max]
 *   (ranks: `{ dist: 'qLogUniform', min: 4, max: 64 }`); min > 0
 */
export interface Distribution {
  dist: DistributionName;
  min: number;
  max: number;
  q?: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function isDistribution(v: unknown): v is Distribution {
  return isPlainObject(v) && 'dist' in v;
}

/** Accept `8` as shorthand for `[8]`. */
export const axis = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item).min(1, 'needs at least one value'));

/** The multiples of q inside [min, max] (qLogUniform's support): [lowest, highest]. */
export function quantizedRange(d: Pick<Distribution, 'min' | 'max' | 'q'>): [number, number] {
  const q = d.q ?? 1;
  return [Math.ceil(d.min / q - 1e-9) * q, Math.floor(d.max / q + 1e-9) * q];
}

function distributionSchema(item: z.ZodNumber) {
  const integer = item.isInt;
  return z
    .object({
      dist: z.enum(DISTRIBUTIONS, { error: `expected one of ${DISTRIBUTIONS.join(', ')}` }),
      min: z.number(),
      max: z.number(),
      q: z.number().positive().optional(),
    })
    .strict()
    .superRefine((d, ctx) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
      for (const bound of ['min', 'max'] as const) {
        const r = item.safeParse(d[bound]);
        if (!r.success) r.error.issues.forEach((i) => issue(bound, i.message));
      }
      if (!(d.min < d.max)) issue('max', `must be greater than min (${d.min})`);
      const log = d.dist === 'logUniform' || d.dist === 'qLogUniform';
      if (log && !(d.min > 0)) issue('min', `must be > 0 for ${d.dist}`);
      if (d.dist === 'intUniform') {
        if (!Number.isInteger(d.min)) issue('min', 'must be an integer for intUniform');
        if (!Number.isInteger(d.max)) issue('max', 'must be an integer for intUniform');
      }
      if (d.q !== undefined && d.dist !== 'qLogUniform') issue('q', 'only qLogUniform takes q');
      if (integer && (d.dist === 'uniform' || d.dist === 'logUniform')) {
        issue('dist', `this axis takes integers: use intUniform or qLogUniform, not ${d.dist}`);
      }
      if (d.dist === 'qLogUniform') {
        if (integer && d.q !== undefined && !Number.isInteger(d.q)) issue('q', 'must be an integer on an integer axis');
        const [lo, hi] = quantizedRange(d);
        if (d.min < d.max && lo > hi) issue('q', `no multiple of q (${d.q ?? 1}) lies in [${d.min}, ${d.max}]`);
      }
    });
}

/**
 * A numeric axis: a value, a list of values, or (random search only; the sweep schema checks
 * that) a distribution whose bounds obey `item`'s limits. An integer `item` (`.int()`) admits
 * only intUniform and qLogUniform.
 */
export const numAxis = (item: z.ZodNumber) =>
  z.preprocess(
    // Objects are not wrapped: they are distributions (or mistakes reported as such).
    (v) => (v === undefined || Array.isArray(v) || isPlainObject(v) ? v : [v]),
    z.union([z.array(item).min(1, 'needs at least one value'), distributionSchema(item)]),
  );

/** A search-space axis after validation. */
export type AxisValue<T> = T[] | Distribution;

// Early-stopping rules a sweep may ask for. Both compare the eval loss curve (MetricPoint
// split 'eval', name 'loss'; lower is better); the logic is libs/orchestration/src/early-stopping.ts.
import { z } from 'zod';

/**
 * Median stopping (Golovin et al., "Google Vizier", KDD 2017; as Ray Tune's MedianStoppingRule):
 * at step t, prune a trial whose best value so far is worse than the median of the other
 * trials' running averages up to t.
 */
export const MedianStoppingSchema = z
  .object({
    rule: z.literal('median'),
    metric: z.literal('eval_loss').default('eval_loss'),
    /** No pruning before this step; the running averages start here. */
    graceSteps: z.number().int().min(0).default(0),
    /** Need this many other trials that reached the step. */
    minTrials: z.number().int().min(1).max(10_000).default(3),
  })
  .strict();

/**
 * ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020; as Ray
 * Tune's AsyncHyperBandScheduler): rungs at minSteps·η^k; at a rung a trial continues only if it
 * is in the top 1/η of the trials that reached that rung so far.
 */
export const AshaSchema = z
  .object({
    rule: z.literal('asha'),
    metric: z.literal('eval_loss').default('eval_loss'),
    /** The first rung. */
    minSteps: z.number().int().min(1),
    /** η: keep the top 1/η at each rung; rungs are η× apart. */
    reductionFactor: z.number().int().min(2).max(100).default(3),
    /** No rung at or beyond this step (default: none until the trial's last step). */
    maxSteps: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((a) => a.maxSteps === undefined || a.maxSteps > a.minSteps, { message: 'must be greater than minSteps', path: ['maxSteps'] });

export const EarlyStoppingSchema = z.discriminatedUnion('rule', [MedianStoppingSchema, AshaSchema], {
  error: 'rule must be "median" or "asha"',
});

export type MedianStopping = z.output<typeof MedianStoppingSchema>;
export type AshaStopping = z.output<typeof AshaSchema>;
export type EarlyStopping = z.output<typeof EarlyStoppingSchema>;

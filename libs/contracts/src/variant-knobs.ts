// Each variant's own knobs, as search-space axes (PEFT's defaults where PEFT has the variant).
// A sweep lists them under `searchSpace.perVariant.<variant>`; they multiply only that variant's trials.
// Numeric knobs take a distribution in a random search (see distributions.ts).
import { z } from 'zod';
import { axis, type Distribution, numAxis } from './distributions';
import type { VariantName } from './variants';

export const VARIANT_KNOBS = {
  lora: z.object({}).strict(),
  loraplus: z
    .object({
      /** B's learning rate over A's (PEFT's loraplus_lr_ratio). */
      lrRatio: numAxis(z.number().positive().max(1e4)).default([16]),
    })
    .strict(),
  vera: z
    .object({
      dInitial: numAxis(z.number().min(0).max(10)).default([0.1]),
      projectionPrngKey: numAxis(
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1),
      ).default([0]),
    })
    .strict(),
  lorafa: z
    .object({
      /** PEFT's LoRA-FA optimizer correction of B's gradient. */
      gradientCorrection: axis(z.boolean()).default([true]),
    })
    .strict(),
  loradrop: z
    .object({
      /** Keep the smallest set of modules whose cumulative importance reaches this. */
      threshold: numAxis(z.number().gt(0).max(1)).default([0.9]),
      /** Or keep a fixed number of modules (overrides threshold when set). */
      topN: numAxis(z.number().int().positive()).optional(),
      probeSteps: numAxis(z.number().int().min(1).max(100_000)).default([50]),
      /** Fraction of the training data the probe samples from. */
      probeFraction: numAxis(z.number().gt(0).max(1)).default([0.1]),
    })
    .strict(),
  adalora: z
    .object({
      /** Average final rank per module (the common `r` axis is init_r). */
      targetR: numAxis(z.number().int().positive().max(1024)).default([8]),
      tinit: numAxis(z.number().int().min(0)).default([0]),
      tfinal: numAxis(z.number().int().min(0)).default([0]),
      deltaT: numAxis(z.number().int().min(1)).default([1]),
      beta1: numAxis(z.number().min(0).lt(1)).default([0.85]),
      beta2: numAxis(z.number().min(0).lt(1)).default([0.85]),
      orthRegWeight: numAxis(z.number().min(0)).default([0.5]),
    })
    .strict(),
  dora: z.object({}).strict(),
  deltalora: z
    .object({
      lambda: numAxis(z.number().min(0).max(100)).default([2]),
      /** K: W is updated only after this many steps. */
      startStep: numAxis(z.number().int().min(0)).default([500]),
    })
    .strict(),
} satisfies Record<VariantName, z.ZodTypeAny>;

export const PerVariantSchema = z
  .object(
    Object.fromEntries(Object.entries(VARIANT_KNOBS).map(([k, v]) => [k, v.optional()])) as {
      [K in VariantName]: z.ZodOptional<(typeof VARIANT_KNOBS)[K]>;
    },
  )
  .strict()
  .default({});

export type VariantKnobAxes = { [K in VariantName]: z.output<(typeof VARIANT_KNOBS)[K]> };

/** The knob axes of one variant with defaults filled in: value lists, or distributions (random search). */
export function knobAxes(variant: VariantName, given: unknown): Record<string, unknown[] | Distribution> {
  return VARIANT_KNOBS[variant].parse(given ?? {}) as Record<string, unknown[] | Distribution>;
}

/** LoRA-drop's selection rule from a trial's knobs: top-n when given, else the threshold (default 0.9). */
export function loraDropRule(knobs: Record<string, unknown>): { topN: number } | { threshold: number } {
  const k = knobs as { threshold?: number; topN?: number };
  return k.topN !== undefined ? { topN: k.topN } : { threshold: k.threshold ?? 0.9 };
}

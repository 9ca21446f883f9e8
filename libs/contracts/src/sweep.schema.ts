// The sweep submission contract (POST /sweeps, CLI YAML): validated with zod, so every bad field
// is reported by its path. Shared by api, CLI and dashboard.
import { z } from 'zod';
import { axis, isDistribution, numAxis } from './distributions';
import { EarlyStoppingSchema } from './early-stopping.schema';
import { PerVariantSchema } from './variant-knobs';
import { ALL_VARIANTS, AVAILABLE_VARIANTS } from './variants';

/**
 * Free text that ends up in Postgres (names, catalog lookups): no control characters (Postgres
 * text refuses NUL) and no lone UTF-16 surrogates (jsonb refuses them).
 */
export const storableText = (s: z.ZodString) =>
  s
    .refine((v) => !Array.from(v).some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f), 'must not contain control characters')
    .refine((v) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v), 'must be valid Unicode text');

/** A message for a missing value; a present value of the wrong type keeps zod's "expected …, received …". */
const required = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? message : undefined);

const moduleName = z.string().regex(/^[A-Za-z0-9_.]+$/, 'module names use letters, digits, "_" and "." (e.g. "c_attn", "mlp.c_proj")');

export const SearchSpaceSchema = z
  .object({
    r: numAxis(z.number().int('rank must be an integer').positive('rank must be > 0').max(1024)).default([8]),
    alpha: numAxis(z.number().positive('alpha must be > 0').max(65536)).default([8]),
    lr: numAxis(z.number().positive('learning rate must be > 0').max(1)).default([1e-3]),
    dropout: numAxis(z.number().min(0).max(0.9)).default([0]),
    targetModules: axis(z.array(moduleName).min(1, 'needs at least one module')).default([['c_attn']]),
    rslora: axis(z.boolean()).default([false]),
    /** Variant-specific knobs (`{ loraplus: { lrRatio: [8, 16] } }`); they multiply only that variant's trials. */
    perVariant: PerVariantSchema,
  })
  .strict();

export const TrainingSchema = z
  .object({
    steps: z.number().int().min(1).max(1_000_000).default(100),
    batchSize: z.number().int().min(1).max(1024).default(8),
    seqLen: z.number().int().min(2).max(8192).default(128),
    warmupSteps: z.number().int().min(0).default(0),
    schedule: z.enum(['constant', 'cosine']).default('cosine'),
    clipNorm: z.number().positive().nullable().default(1),
    logEvery: z.number().int().min(1).default(1),
    evalEvery: z.number().int().min(0).default(0),
    evalBatches: z.number().int().min(1).max(10_000).default(8),
    checkpointEvery: z.number().int().min(0).default(0),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(0),
  })
  .strict()
  .refine((t) => t.warmupSteps < t.steps, { message: 'must be smaller than steps', path: ['warmupSteps'] });

export const BudgetSchema = z
  .object({
    maxTrials: z.number().int().min(1).max(10_000).default(64),
    maxConcurrent: z.number().int().min(1).max(1024).optional(),
  })
  .strict();

/** BullMQ's highest priority number (bullmq PRIORITY_LIMIT = 2^21 - 1). */
export const MAX_PRIORITY = 2 ** 21 - 1;

/** What a trial needs of the worker that runs it (Ray-style resource requests). */
export const ResourcesSchema = z
  .object({
    /** gpu / cpu: only workers of that device class run the sweep's trials; any: whichever is free. */
    device: z.enum(['any', 'gpu', 'cpu']).default('any'),
    /** Only workers with at least this much memory (GiB; their WORKER_MEMORY_MB) run them. */
    minMemoryGb: z.number().positive().max(65_536).optional(),
  })
  .strict();

export const SearchSchema = z
  .object({
    /** grid: every combination of the listed values; random: `trials` samples. */
    method: z.enum(['grid', 'random']).default('grid'),
    /** Random search: same seed → same trials. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(0),
    /** Random search: how many trials to sample (required there). */
    trials: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();

/** The numeric common axes that may hold a distribution (random search). */
export const NUMERIC_COMMON_AXES = ['r', 'alpha', 'lr', 'dropout'] as const;

export const SweepSpecSchema = z
  .object({
    name: storableText(z.string().trim().min(1).max(200)).optional(),
    baseModel: storableText(
      z.string({ error: required('is required (the name of a registered base model, e.g. "sotu-gpt2-small")') }).min(1),
    ),
    dataset: storableText(z.string({ error: required('is required (the name of a registered dataset, e.g. "moby-dick")') }).min(1)),
    task: z.enum(['causal-lm']).default('causal-lm'),
    variants: z
      .array(
        z.string().superRefine((v, ctx) => {
          if (!(ALL_VARIANTS as readonly string[]).includes(v)) {
            ctx.addIssue({ code: 'custom', message: `unknown variant "${v}"; expected one of ${ALL_VARIANTS.join(', ')}` });
          } else if (!AVAILABLE_VARIANTS.includes(v as never)) {
            ctx.addIssue({
              code: 'custom',
              message: `variant "${v}" is not available yet; available: ${AVAILABLE_VARIANTS.join(', ')}`,
            });
          }
        }),
        { error: required('is required (e.g. ["lora"])') },
      )
      .min(1, 'needs at least one variant')
      .refine((v) => new Set(v).size === v.length, 'lists a variant twice'),
    searchSpace: SearchSpaceSchema.default(SearchSpaceSchema.parse({})),
    training: TrainingSchema.default(TrainingSchema.parse({})),
    budget: BudgetSchema.default(BudgetSchema.parse({})),
    search: SearchSchema.default(SearchSchema.parse({})),
    /**
     * BullMQ priority of the sweep's jobs: 0 (default) = no priority, and BullMQ runs such jobs
     * before every prioritized one; otherwise 1 is the highest and 2,097,151 the lowest, and jobs
     * of equal priority run first-in first-out.
     */
    priority: z.number().int().min(0).max(MAX_PRIORITY).default(0),
    earlyStopping: EarlyStoppingSchema.optional(),
    resources: ResourcesSchema.default(ResourcesSchema.parse({})),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const random = spec.search.method === 'random';
    const needRandom = (path: Array<string | number>) =>
      ctx.addIssue({ code: 'custom', path, message: 'distributions need search.method = random' });
    for (const name of NUMERIC_COMMON_AXES) {
      if (!random && isDistribution(spec.searchSpace[name])) needRandom(['searchSpace', name]);
    }
    for (const [variant, knobs] of Object.entries(spec.searchSpace.perVariant)) {
      for (const [knob, value] of Object.entries((knobs ?? {}) as Record<string, unknown>)) {
        if (!random && isDistribution(value)) needRandom(['searchSpace', 'perVariant', variant, knob]);
      }
    }
    if (random && spec.search.trials === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['search', 'trials'],
        message: 'is required for search.method = random (how many trials to sample)',
      });
    }
    if (!random && spec.search.trials !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['search', 'trials'],
        message: 'only applies to search.method = random (a grid runs every combination)',
      });
    }
    const es = spec.earlyStopping;
    if (es) {
      const every = spec.training.evalEvery;
      if (every === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['training', 'evalEvery'],
          message: 'must be > 0 when earlyStopping is set (the rules compare eval loss)',
        });
      } else if (es.rule === 'asha' && es.minSteps % every !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['earlyStopping', 'minSteps'],
          message: `must be a multiple of training.evalEvery (${every}) so every rung has an eval`,
        });
      }
      if (es.rule === 'asha' && es.minSteps >= spec.training.steps) {
        ctx.addIssue({
          code: 'custom',
          path: ['earlyStopping', 'minSteps'],
          message: `must be smaller than training.steps (${spec.training.steps}), or no trial reaches a rung`,
        });
      }
    }
  });

export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
export type SweepSpec = z.output<typeof SweepSpecSchema>;
export type SearchSpace = z.output<typeof SearchSpaceSchema>;
export type TrainingSettings = z.output<typeof TrainingSchema>;

/** One field error: `field` is the dotted path of the offending value ("searchSpace.r.0"). */
export interface FieldError {
  field: string;
  message: string;
}

type Issue = z.core.$ZodIssue;

function formatIssue(issue: Issue, prefix: PropertyKey[]): FieldError[] {
  const path = [...prefix, ...issue.path];
  const base = path.map(String).join('.');
  // Unknown keys are reported on the parent object: name each key instead.
  if (issue.code === 'unrecognized_keys') {
    return [{ field: issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(', '), message: 'unknown field' }];
  }
  // A value no alternative accepts (an axis that is neither a list nor a distribution): report
  // the alternative whose shape matched (its errors are not a type mismatch of the value itself).
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const matched = issue.errors.filter((errs) => errs.length > 0 && !errs.some((e) => e.code === 'invalid_type' && e.path.length === 0));
    if (matched.length === 1) return matched[0].flatMap((e) => formatIssue(e, path));
  }
  return [{ field: base || '(body)', message: issue.message }];
}

/** `prefix`: the path of the validated value itself (e.g. ["id"] for a route parameter). */
export function formatZodIssues(error: z.ZodError, prefix: PropertyKey[] = []): FieldError[] {
  return error.issues.flatMap((issue) => formatIssue(issue as Issue, prefix));
}

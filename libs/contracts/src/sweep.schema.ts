// The sweep submission contract (POST /sweeps, CLI YAML): validated with zod, so every bad field
// is reported by its path. Shared by api, CLI and dashboard.
import { z } from 'zod';
import { PerVariantSchema } from './variant-knobs';
import { ALL_VARIANTS, AVAILABLE_VARIANTS } from './variants';

/** Accept `8` as shorthand for `[8]` in search-space axes. */
const axis = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item).min(1, 'needs at least one value'));

const moduleName = z.string().regex(/^[A-Za-z0-9_.]+$/, 'module names use letters, digits, "_" and "." (e.g. "c_attn", "mlp.c_proj")');

export const SearchSpaceSchema = z
  .object({
    r: axis(z.number().int('rank must be an integer').positive('rank must be > 0').max(1024)).default([8]),
    alpha: axis(z.number().positive('alpha must be > 0').max(65536)).default([8]),
    lr: axis(z.number().positive('learning rate must be > 0').max(1)).default([1e-3]),
    dropout: axis(z.number().min(0).max(0.9)).default([0]),
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

export const SweepSpecSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    baseModel: z.string({ error: 'is required (the name of a registered base model, e.g. "sotu-gpt2-small")' }).min(1),
    dataset: z.string({ error: 'is required (the name of a registered dataset, e.g. "moby-dick")' }).min(1),
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
        { error: 'is required (e.g. ["lora"])' },
      )
      .min(1, 'needs at least one variant')
      .refine((v) => new Set(v).size === v.length, 'lists a variant twice'),
    searchSpace: SearchSpaceSchema.default(SearchSpaceSchema.parse({})),
    training: TrainingSchema.default(TrainingSchema.parse({})),
    budget: BudgetSchema.default(BudgetSchema.parse({})),
  })
  .strict();

export type SweepSpecInput = z.input<typeof SweepSpecSchema>;
export type SweepSpec = z.output<typeof SweepSpecSchema>;
export type SearchSpace = z.output<typeof SearchSpaceSchema>;
export type TrainingSettings = z.output<typeof TrainingSchema>;

/** One field error: `field` is the dotted path of the offending value ("searchSpace.r.0"). */
export interface FieldError {
  field: string;
  message: string;
}

export function formatZodIssues(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const base = issue.path.map(String).join('.');
    // Unknown keys are reported on the parent object: name each key instead.
    if (issue.code === 'unrecognized_keys') {
      return { field: issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(', '), message: 'unknown field' };
    }
    return { field: base || '(body)', message: issue.message };
  });
}

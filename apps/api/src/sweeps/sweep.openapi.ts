// OpenAPI schemas of the sweep answers (GET /sweeps/:id, POST /sweeps, GET /sweeps/:id/trials):
// the shapes SweepsService returns, written out for /docs since they are Prisma rows, not classes.
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'pruned', 'preempted'];
const nullable = (type: string, extra: SchemaObject = {}): SchemaObject => ({ type, nullable: true, ...extra });
const dateTime: SchemaObject = { type: 'string', format: 'date-time' };

export const TrialSchema: SchemaObject = {
  type: 'object',
  description: 'A trial row (hyperparameters, status, results)',
  required: ['id', 'sweepId', 'index', 'variant', 'kind', 'status', 'hyperparams'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    sweepId: { type: 'string', format: 'uuid' },
    index: { type: 'integer' },
    variant: { type: 'string', example: 'lora' },
    kind: { type: 'string', enum: ['train', 'probe'] },
    status: { type: 'string', enum: RUN_STATUSES },
    hyperparams: { type: 'object', additionalProperties: true, description: 'the expanded trial configuration' },
    trainableParams: nullable('integer'),
    baselineEvalLoss: nullable('number'),
    finalEvalLoss: nullable('number'),
    bestEvalLoss: nullable('number'),
    tokensPerSec: nullable('number'),
    error: nullable('string'),
    prunedReason: nullable('string'),
    planId: nullable('string', { format: 'uuid' }),
    rankPattern: { type: 'object', nullable: true, additionalProperties: true, description: "AdaLoRA's final rank per module" },
    priority: { type: 'integer' },
    createdAt: dateTime,
    updatedAt: dateTime,
    startedAt: nullable('string', { format: 'date-time' }),
    finishedAt: nullable('string', { format: 'date-time' }),
  },
};

export const ProgressSchema: SchemaObject = {
  type: 'object',
  description: 'Trial counts of the sweep: all, finished (succeeded, failed, cancelled, pruned), per status',
  required: ['total', 'done', 'byStatus'],
  properties: {
    total: { type: 'integer' },
    done: { type: 'integer' },
    byStatus: {
      type: 'object',
      properties: Object.fromEntries(RUN_STATUSES.map((s) => [s, { type: 'integer' }])),
      example: { succeeded: 3, running: 1, queued: 4 },
    },
  },
};

const named: SchemaObject = { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' } } };

export const SweepSummarySchema: SchemaObject = {
  type: 'object',
  description:
    "The sweep without its trials (page through GET /sweeps/{id}/trials for those): its fields, model and dataset, counts per status and the best train trial by the sweep's metric",
  required: ['id', 'name', 'status', 'spec', 'metric', 'metricMode', 'progress', 'best'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    status: { type: 'string', enum: RUN_STATUSES },
    baseModelId: { type: 'string', format: 'uuid' },
    datasetId: { type: 'string', format: 'uuid' },
    baseModel: named,
    dataset: named,
    spec: { type: 'object', additionalProperties: true, description: 'the validated submission' },
    idempotencyKey: nullable('string'),
    error: nullable('string'),
    priority: { type: 'integer' },
    maxConcurrent: nullable('integer'),
    metric: { type: 'string', enum: ['eval_loss', 'best_eval_loss', 'tokens_per_sec', 'trainable_params'] },
    metricMode: { type: 'string', enum: ['min', 'max'] },
    createdAt: dateTime,
    updatedAt: dateTime,
    finishedAt: nullable('string', { format: 'date-time' }),
    progress: ProgressSchema,
    best: {
      ...TrialSchema,
      nullable: true,
      description: "The leaderboard's first train trial by the sweep's metric and mode; null while no trial has a value",
    },
  },
};

export const TrialsPageSchema: SchemaObject = {
  type: 'object',
  required: ['total', 'items'],
  properties: { total: { type: 'integer', description: "the sweep's trial count" }, items: { type: 'array', items: TrialSchema } },
};

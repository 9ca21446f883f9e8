// JSON shapes returned by the API (dates arrive as ISO strings). Copied from the Prisma rows the
// controllers return (libs/db/src/repositories) and libs/contracts.
import type { LogLine } from '../lib/logs';
import type { MetricPoint } from '../lib/metrics';
import type { RankStep } from '../lib/heatmap';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'pruned' | 'preempted';
export const RUN_STATUSES: RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'pruned', 'preempted'];
export const TERMINAL: RunStatus[] = ['succeeded', 'failed', 'cancelled', 'pruned'];

export interface TrialHyperparams {
  variant: string;
  r: number;
  alpha: number;
  lr: number;
  dropout: number;
  targetModules: string[];
  rslora: boolean;
  knobs: Record<string, unknown>;
  training: Record<string, unknown>;
}

export interface Progress {
  total: number;
  done: number;
  byStatus: Partial<Record<RunStatus, number>>;
}

export interface Trial {
  id: string;
  sweepId: string;
  index: number;
  variant: string;
  kind: 'train' | 'probe' | string;
  hyperparams: TrialHyperparams;
  status: RunStatus;
  trainableParams: number | null;
  baselineEvalLoss: number | null;
  finalEvalLoss: number | null;
  bestEvalLoss: number | null;
  tokensPerSec: number | null;
  error: string | null;
  prunedReason: string | null;
  planId: string | null;
  rankPattern?: unknown;
  priority?: number;
  createdAt: string;
  updatedAt?: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Attempt {
  id: string;
  number: number;
  status: RunStatus;
  workerId: string | null;
  backend: string | null;
  device: string | null;
  resumedFromStep: number | null;
  lastStep?: number | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface TrialDetail extends Trial {
  attempts: Attempt[];
  sweep?: { id: string; name: string };
}

export interface SweepSummary {
  id: string;
  name: string;
  status: RunStatus;
  metric: string;
  metricMode: 'min' | 'max' | string;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  priority?: number;
  maxConcurrent?: number | null;
  baseModel?: { id?: string; name: string };
  dataset?: { id?: string; name: string };
  progress: Progress;
  /** GET /sweeps/:id: the best train trial by the sweep's metric (null while none has a value). */
  best?: Trial | null;
}

/** GET /sweeps/:id (no trials) plus every trial from GET /sweeps/:id/trials (api/trials.ts). */
export interface Sweep extends SweepSummary {
  spec?: unknown;
  trials: Trial[];
}

export interface LeaderboardRow extends Trial {
  rank: number;
}

export interface Worker {
  id: string;
  host: string;
  pid: number;
  slots: number;
  backend: string;
  device: string;
  /** The train queue class it serves besides the shared one. */
  deviceClass?: 'gpu' | 'cpu' | string;
  memoryMb?: number | null;
  status: 'online' | 'draining' | 'offline' | string;
  currentTrialId: string | null;
  heartbeatAt: string;
  startedAt: string;
  lost: boolean;
  runningTrials?: Array<{ trialId: string; sweepId: string; attempt: number }>;
}

export interface QueueCounts {
  name: string;
  counts: Partial<
    Record<'waiting' | 'active' | 'delayed' | 'prioritized' | 'failed' | 'completed' | 'paused' | 'waiting-children', number>
  >;
}

export interface Session {
  authenticated: boolean;
  name: string | null;
  readsNeedToken: boolean;
}

export interface Checkpoint {
  id: string;
  trialId: string;
  step: number;
  format: string;
  sizeBytes: number;
  sha256: string;
  metrics: Record<string, unknown> | null;
  isFinal: boolean;
  createdAt: string;
}

export interface Importance {
  modules: Array<{ module: string; score: number; normalized: number; rank: number }>;
  plans: Array<{ id: string; threshold: number | null; topN: number | null; selected: string[]; createdAt?: string }>;
}

export interface RankBudget {
  history: RankStep[];
  rankPattern: Record<string, number> | null;
}

export type { LogLine, MetricPoint };

// Server-sent events.
export interface SweepEvent {
  sweepId: string;
  status: RunStatus;
  progress: Progress;
}
export interface TrialEvent {
  sweepId: string;
  trial: Trial;
}
export interface MetricsEvent {
  sweepId: string;
  trialId: string;
  points: MetricPoint[];
}
export interface LogEvent {
  sweepId: string;
  trialId: string;
  lines: LogLine[];
}
export interface RefetchEvent {
  sweepId: string;
  trialId: string;
}

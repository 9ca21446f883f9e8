// The shapes of the API's answers the CLI reads (only the fields it uses; the API sends more).
import type { RunStatusName, TrialHyperparams } from '@lora/contracts';

export interface Progress {
  total: number;
  done: number;
  byStatus: Partial<Record<RunStatusName, number>>;
}

export interface TrialView {
  id: string;
  sweepId?: string;
  index: number;
  variant: string;
  status: RunStatusName;
  hyperparams: TrialHyperparams;
  trainableParams: number | null;
  baselineEvalLoss: number | null;
  finalEvalLoss: number | null;
  bestEvalLoss?: number | null;
  tokensPerSec: number | null;
  error: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface SweepSummary {
  id: string;
  name: string;
  status: RunStatusName;
  createdAt: string;
  finishedAt?: string | null;
  baseModel?: { name: string };
  dataset?: { name: string };
  progress: Progress;
  /** GET /sweeps/:id and POST /sweeps: the best train trial by the sweep's metric (null: none has a value yet). */
  best?: TrialView | null;
}

/** A sweep with all its trials: the summary plus GET /sweeps/:id/trials (sweep-trials.ts). */
export interface SweepView extends SweepSummary {
  trials: TrialView[];
}

export interface SweepList {
  total: number;
  items: SweepSummary[];
}

export interface AttemptView {
  id: string;
  number: number;
  status: RunStatusName;
  workerId: string | null;
  backend: string | null;
  device: string | null;
  lastStep: number | null;
  resumedFromStep?: number | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface TrialDetail extends TrialView {
  attempts: AttemptView[];
  sweep?: { id: string; name: string };
}

export interface MetricPoint {
  step: number;
  split: 'train' | 'eval';
  name: string;
  value: number;
}

export interface CheckpointView {
  id: string;
  trialId: string;
  step: number;
  format: string;
  sizeBytes: number;
  sha256: string;
  isFinal: boolean;
  createdAt: string;
}

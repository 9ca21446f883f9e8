// What one trial trains: the hyperparameters stored on Trial.hyperparams and read by the worker.
import type { TrainingSettings } from './sweep.schema';
import type { VariantName } from './variants';

export interface TrialHyperparams {
  variant: VariantName;
  r: number;
  alpha: number;
  lr: number;
  dropout: number;
  targetModules: string[];
  rslora: boolean;
  /** This variant's own knobs (one point of its `perVariant` axes). */
  knobs: Record<string, unknown>;
  training: TrainingSettings;
}

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'pruned', 'preempted'] as const;
export type RunStatusName = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RunStatusName[] = ['succeeded', 'failed', 'cancelled', 'pruned'];

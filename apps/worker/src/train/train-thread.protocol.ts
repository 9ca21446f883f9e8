// Messages between the worker's event loop (BullMQ, Postgres) and the training thread (tensors).
// The thread knows nothing of Nest, queues or Postgres; the parent knows nothing of tensors.
import type { TrialHyperparams } from '@lora/contracts';

export interface TrainThreadInput {
  trialId: string;
  attemptId: string;
  modelDir: string;
  modelName: string;
  datasetSource: string;
  validationFraction: number;
  splitSeed: number;
  hyperparams: TrialHyperparams;
  backend: 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';
  /** wasm threads (WORKER_WASM_THREADS); absent: 'auto'. */
  wasmThreads?: number | 'auto';
  /** 'probe': run LoRA-drop's probe stage only (importance), no full training. */
  kind: 'train' | 'probe';
  /** LoRA-drop full run: the modules its plan selected (no in-trial probe then). */
  selected?: string[];
  /** Early stopping is on: after each eval the thread waits for the parent's verdict. */
  awaitVerdict: boolean;
  /** Go on from a checkpoint (an earlier attempt's): its step and resume state (resume-state.ts). */
  resume?: { step: number; state: Uint8Array };
}

/** Why the parent stops a run: cancel and prune end the trial; preempt hands it to another worker. */
export type AbortKind = 'cancel' | 'prune' | 'preempt';

export type TrainThreadMessage =
  | {
      type: 'ready';
      backend: string;
      device: string;
      trainableParams: number;
      /** Null when resuming (the baseline was measured by the first attempt). */
      baselineEvalLoss: number | null;
      trainTokens: number;
      validationTokens: number;
      /** Time spent before the first step, by phase (backend init, model load, data, adapter attach, baseline eval). */
      phasesMs?: Record<string, number>;
    }
  | { type: 'log'; step: number; loss: number; lr: number; tokensPerSec: number }
  | { type: 'eval'; step: number; evalLoss: number }
  | {
      type: 'checkpoint';
      step: number;
      isFinal: boolean;
      adapterConfig: Record<string, unknown>;
      safetensors: Uint8Array;
      /** Eval loss and variant records (LoRA-drop importance and selection, AdaLoRA rank history). */
      metrics: Record<string, unknown>;
      /** For resuming from this checkpoint; absent for variants whose extra state is not saved. */
      resumeState?: Uint8Array;
    }
  | { type: 'ranks'; records: Array<{ step: number; budget: number; ranks: Record<string, number> }> }
  | { type: 'probe'; importance: Array<{ module: string; score: number; normalized: number }>; selected: string[]; trainableParams: number }
  | { type: 'done'; steps: number; finalTrainLoss: number; finalEvalLoss: number | null; tokensPerSec: number; wallMs: number }
  | { type: 'error'; message: string; stack?: string; unrecoverable: boolean };

export type TrainThreadCommand =
  { type: 'abort'; reason: string; kind: AbortKind } | { type: 'verdict'; step: number; stop: boolean; reason?: string };

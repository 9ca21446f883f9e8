// What the engine needs from attached adapters (implemented by @lora/adapters' AdapterSet).
// The engine knows nothing variant-specific: a module hook rewrites a projection's output,
// and the training loop asks for variables, optimizer groups and per-step hooks.
import type * as tf from '@tensorflow/tfjs-core';

export interface ForwardContext {
  training: boolean;
}

/** Attached to one projection module: gets the module input `x [N, in]` and `baseOut = x W + b [N, out]`. */
export interface ModuleHook {
  forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D;
}

/** One optimizer parameter group: its variables train at `lrScale` times the schedule's rate. */
export interface ParamGroup {
  name: string;
  variables: Array<[name: string, variable: tf.Variable]>;
  lrScale: number;
  /** Decoupled (AdamW) weight decay of this group; default: the optimizer's (0 unless set). */
  weightDecay?: number;
}

export interface StepContext {
  step: number;
  lr: number;
  /** Gradients of this step by variable name; owned by the loop (disposed after the hook). */
  grads: Record<string, tf.Tensor>;
}

/** The engine-side view of an AdapterSet. */
export interface ModelAdapters {
  /** The hook for a module path such as `transformer.h.0.attn.c_attn`, if one is attached. */
  module(path: string): ModuleHook | undefined;
}

export interface TrainableAdapters extends ModelAdapters {
  /** Trainable variables under stable names (optimizer state is keyed by them). */
  namedTrainableVariables(): Array<[string, tf.Variable]>;
  /** Optimizer groups (LoRA+ puts B in a faster group); default: one group at scale 1. */
  paramGroups?(): ParamGroup[];
  /** Extra loss terms added inside the differentiated function (AdaLoRA's orthogonality). */
  regularizer?(): tf.Scalar | undefined;
  /** Rewrites gradients before the optimizer step (LoRA-FA). Returns new tensors or the same ones. */
  transformGradients?(grads: Record<string, tf.Tensor>, step: number): Record<string, tf.Tensor>;
  /** Runs right before the optimizer step, after gradients are final (Delta-LoRA snapshots B A). */
  beforeStep?(step: number): void;
  /**
   * Runs after each optimizer step, inside the step's tidy (Delta-LoRA's base update, AdaLoRA's
   * budget). A returned promise is host work (a device read) the loop awaits before the next step;
   * tensors it needs past the tidy must be kept (`tf.keep`) and disposed by it.
   */
  afterStep?(ctx: StepContext): void | Promise<void>;
}

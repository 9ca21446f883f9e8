// The contract every adapter variant implements, shaped like PEFT: one ModuleAdapter per
// adapted projection (the variant's math) and one VariantDefinition per variant (defaults,
// construction, optimizer groups, per-step hook, adapter_config.json).
import type * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext, ModuleHook, ParamGroup, Rng, StepContext } from '@lora/engine';

/** The projection being adapted: `y = x W + b`, `x [N, inFeatures]`, `y [N, outFeatures]`. */
export interface ModuleInfo {
  /** HF module path, e.g. `transformer.h.0.attn.c_attn`. */
  path: string;
  inFeatures: number;
  outFeatures: number;
  /** The base weight, Conv1D layout `[in, out]` (frozen except for Delta-LoRA and merge). */
  weight: tf.Variable;
  /** The base bias `[out]`. */
  bias: tf.Variable;
}

/** A host-side float32 tensor as exported to / imported from safetensors. */
export interface AdapterTensor {
  shape: number[];
  data: Float32Array;
}

export interface ModuleAdapter extends ModuleHook {
  readonly info: ModuleInfo;
  /** `y = baseOut + Δ(x)`; `x` is the module input. Must not dispose its arguments. */
  forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D;
  /** Trainable variables under PEFT key suffixes (`lora_A.weight`, ...). */
  trainableVariables(): Array<[string, tf.Variable]>;
  /** Trainable parameters of this module. */
  parameterCount(): number;
  /** Tensors to save under `base_model.model.<path>.<suffix>`, keyed by suffix. */
  exportTensors(): Promise<Record<string, AdapterTensor>>;
  /** Overwrites the module's tensors with saved ones (same keys and shapes as exportTensors). */
  importTensors(tensors: Record<string, AdapterTensor>): void;
  /**
   * Folds the adapter into `info.weight` (Conv1D `[in, out]`); while merged, forward adds nothing.
   * Absent for variants that cannot merge. Merge is for inference and export, not training.
   */
  merge?(): void;
  /** Takes the merged delta out of `info.weight` again (exact up to float32 rounding). */
  unmerge?(): void;
  /** Disposes the module's own tensors; set-level shared tensors belong to the set. */
  dispose(): void;
}

/** Everything a variant's set-level hooks see. */
export interface VariantContext<C, S = unknown> {
  config: C;
  modules: ModuleAdapter[];
  /** What `prepare` returned (undefined for variants without set-level state). */
  shared: S;
}

export interface PeftConfigContext {
  targetModules: string[] | string;
  baseModelNameOrPath: string | null;
  /** The set's modules, for fields that depend on trained state (AdaLoRA's rank_pattern). */
  modules?: ModuleAdapter[];
}

/**
 * `S` is the variant's set-level state (VeRA's shared frozen projections, LoRA-drop's shared
 * pairs): built once by `prepare` before any `create`, handed to every `create`, owned by the set.
 */
export interface VariantDefinition<C extends object = Record<string, unknown>, S = unknown> {
  /** Our name (`lora`, `dora`, `vera`, ...). */
  readonly name: string;
  /** Plain defaults; a partial user config is spread over them. */
  readonly defaults: C;
  /** Rejects a bad config with a message naming the field. */
  validate?(config: C): void;
  /** Set-level state from every module the set will adapt; called once, before `create`. */
  prepare?(modules: ModuleInfo[], config: C, rng: Rng): S;
  /** `shared` is what `prepare` returned (undefined without `prepare`). */
  create(module: ModuleInfo, config: C, rng: Rng, shared: S): ModuleAdapter;
  /** Trainable set-level variables, named once (not per module); counted once in the set's totals. */
  sharedTrainableVariables?(shared: S): Array<[string, tf.Variable]>;
  /** Set-level tensors saved once, keyed by their full safetensors key (e.g. `base_model.vera_A`). */
  exportShared?(shared: S): Promise<Record<string, AdapterTensor>>;
  /**
   * Loads the saved set-level tensors: every key of the file that belongs to no adapted module,
   * by full key. Must throw on a missing or unknown key.
   */
  importShared?(shared: S, tensors: Record<string, AdapterTensor>): void;
  disposeShared?(shared: S): void;
  /** Optimizer groups; default one group with every trainable variable at scale 1. */
  paramGroups?(ctx: VariantContext<C, S>): ParamGroup[];
  /** Gradient rewrite before the optimizer step (LoRA-FA). */
  transformGradients?(ctx: VariantContext<C, S>, grads: Record<string, tf.Tensor>, step: number): Record<string, tf.Tensor>;
  /** Loss term added inside the differentiated function (AdaLoRA). */
  regularizer?(ctx: VariantContext<C, S>): tf.Scalar | undefined;
  /** Right before each optimizer step, gradients final (Delta-LoRA snapshots B A). */
  beforeStep?(ctx: VariantContext<C, S>, step: number): void;
  /** After each optimizer step (Delta-LoRA, AdaLoRA). */
  afterStep?(ctx: VariantContext<C, S>, step: StepContext): void | Promise<void>;
  /** adapter_config.json for this config. */
  peftConfig(config: C, ctx: PeftConfigContext): Record<string, unknown>;
  /** Whether this variant reads a given adapter_config.json. */
  matchesPeft(adapterConfig: Record<string, unknown>): boolean;
  /** Our config from an adapter_config.json this variant matches. */
  configFromPeft(adapterConfig: Record<string, unknown>): C;
}

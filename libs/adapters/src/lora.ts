// LoRA (Hu et al. 2021, PEFT's LoraLayer): y = x W + b + s · dropout(x) Aᵀ Bᵀ,
// A [r, in] ~ U(-1/sqrt(in), 1/sqrt(in)), B [out, r] = 0, s = alpha / r (alpha / sqrt(r) rsLoRA).
import * as tf from '@tensorflow/tfjs-core';
import { constant, type ForwardContext, type Rng } from '@lora/engine';
import type { AdapterTensor, ModuleAdapter, ModuleInfo, VariantDefinition } from './adapter';
import { foldDelta } from './additive-merge';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
}

export const LORA_DEFAULTS: LoraConfig = { r: 8, alpha: 8, dropout: 0, useRslora: false };

export function loraScaling(config: LoraConfig): number {
  return config.useRslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
}

function checkTensor(path: string, key: string, t: AdapterTensor | undefined, shape: number[]): AdapterTensor {
  if (!t) throw new Error(`LoRA import: missing '${key}' for module ${path}`);
  if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
    throw new Error(`LoRA import: '${key}' of ${path} has shape [${t.shape}], expected [${shape}] (r or base model differ)`);
  }
  return t;
}

/** One LoRA pair: `A [r, in]`, `B [out, r]`; `aInit`: A's initial values on the host, when drawn here. */
export interface LoraPair {
  a: tf.Variable;
  b: tf.Variable;
  aInit?: Float32Array;
}

/** A fresh trainable pair: A ~ U(-1/sqrt(in), 1/sqrt(in)) from `rng`, B = 0. */
export function initLoraPair(inFeatures: number, outFeatures: number, r: number, rng: Rng): LoraPair {
  const bound = 1 / Math.sqrt(inFeatures);
  const init = new Float32Array(r * inFeatures);
  for (let i = 0; i < init.length; i++) init[i] = (2 * rng.next() - 1) * bound;
  return {
    aInit: init,
    a: tf.tidy(() => tf.variable(tf.tensor2d(init, [r, inFeatures]), true)),
    b: tf.tidy(() => tf.variable(tf.zeros([outFeatures, r]), true)),
  };
}

export class LoraModule implements ModuleAdapter {
  readonly a: tf.Variable; // [r, in]
  readonly b: tf.Variable; // [out, r]
  readonly scaling: number;
  protected isMerged = false;
  /** A's initial values on the host (not for a shared pair passed in): variants that derive host state from A use it. */
  protected readonly aInit?: Float32Array;

  /** `pair`: use these variables instead of drawing a new pair (LoRA-drop's shared pair). */
  constructor(
    readonly info: ModuleInfo,
    readonly config: LoraConfig,
    protected readonly rng: Rng,
    pair?: LoraPair,
  ) {
    const { a, b, aInit } = pair ?? initLoraPair(info.inFeatures, info.outFeatures, config.r, rng);
    this.a = a;
    this.b = b;
    this.aInit = aInit;
    this.scaling = loraScaling(config);
  }

  get merged(): boolean {
    return this.isMerged;
  }

  forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    if (this.isMerged) return baseOut;
    return tf.tidy(() => {
      const rate = this.config.dropout;
      // Dropout masks come from the module's seeded stream: the same run gives the same masks.
      const xd = ctx.training && rate > 0 ? tf.dropout(x, rate, undefined, this.rng.nextUint32()) : x;
      const down = tf.mul(tf.matMul(xd, this.a, false, true), constant(this.scaling));
      return tf.add(baseOut, tf.matMul(down, this.b, false, true));
    });
  }

  trainableVariables(): Array<[string, tf.Variable]> {
    return [
      ['lora_A.weight', this.a],
      ['lora_B.weight', this.b],
    ];
  }

  parameterCount(): number {
    return this.a.size + this.b.size;
  }

  async exportTensors(): Promise<Record<string, AdapterTensor>> {
    return {
      'lora_A.weight': { shape: [...this.a.shape], data: (await this.a.data()) as Float32Array },
      'lora_B.weight': { shape: [...this.b.shape], data: (await this.b.data()) as Float32Array },
    };
  }

  /** `s · (B A)ᵀ` in the base weight's Conv1D layout `[in, out]`. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.a, this.b, true, true), constant(this.scaling)) as tf.Tensor2D);
  }

  merge(): void {
    this.isMerged = foldDelta(this, this.isMerged, true);
  }

  unmerge(): void {
    this.isMerged = foldDelta(this, this.isMerged, false);
  }

  importTensors(tensors: Record<string, AdapterTensor>): void {
    const a = checkTensor(this.info.path, 'lora_A.weight', tensors['lora_A.weight'], this.a.shape);
    const b = checkTensor(this.info.path, 'lora_B.weight', tensors['lora_B.weight'], this.b.shape);
    tf.tidy(() => {
      this.a.assign(tf.tensor(a.data, a.shape, 'float32'));
      this.b.assign(tf.tensor(b.data, b.shape, 'float32'));
    });
  }

  dispose(): void {
    this.a.dispose();
    this.b.dispose();
  }
}

function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`adapter_config.json: '${key}' must be a number (got ${JSON.stringify(v)})`);
  return v;
}

export const loraVariant: VariantDefinition<LoraConfig> = {
  name: 'lora',
  defaults: LORA_DEFAULTS,
  validate(config) {
    if (!Number.isInteger(config.r) || config.r <= 0) throw new Error(`LoRA config: r must be a positive integer (got ${config.r})`);
    if (!(config.alpha > 0)) throw new Error(`LoRA config: alpha must be positive (got ${config.alpha})`);
    if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`LoRA config: dropout must be in [0, 1) (got ${config.dropout})`);
  },
  create: (module, config, rng) => new LoraModule(module, config, rng),
  peftConfig(config, ctx) {
    return {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: ctx.baseModelNameOrPath,
      r: config.r,
      lora_alpha: config.alpha,
      lora_dropout: config.dropout,
      target_modules: ctx.targetModules,
      fan_in_fan_out: true,
      use_rslora: config.useRslora,
      use_dora: false,
      bias: 'none',
      rank_pattern: {},
      alpha_pattern: {},
      init_lora_weights: true,
      inference_mode: true,
      modules_to_save: null,
      layers_to_transform: null,
      layers_pattern: null,
      revision: null,
    };
  },
  matchesPeft: (cfg) => cfg.peft_type === 'LORA' && !cfg.use_dora,
  configFromPeft(cfg) {
    for (const key of ['rank_pattern', 'alpha_pattern'] as const) {
      const pattern = cfg[key];
      if (pattern && typeof pattern === 'object' && Object.keys(pattern).length > 0) {
        throw new Error(
          `adapter_config.json: a non-empty '${key}' is not supported yet; re-export with one rank and alpha for every module`,
        );
      }
    }
    if (cfg.bias !== undefined && cfg.bias !== 'none')
      throw new Error(`adapter_config.json: bias '${String(cfg.bias)}' is not supported (only "none")`);
    return {
      r: num(cfg, 'r', LORA_DEFAULTS.r),
      alpha: num(cfg, 'lora_alpha', LORA_DEFAULTS.alpha),
      dropout: num(cfg, 'lora_dropout', LORA_DEFAULTS.dropout),
      useRslora: Boolean(cfg.use_rslora),
    };
  },
};

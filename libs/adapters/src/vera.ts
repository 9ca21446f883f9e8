// VeRA (Kopiczko et al. 2024, PEFT's vera): y = x W + b + λ_b ⊙ (B_s (λ_d ⊙ (A_s x))). One frozen
// random pair A_s [r, max_in], B_s [max_out, r] for the whole set; per module only λ_d, λ_b train.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@lora/engine';
import type { ForwardContext } from '@lora/engine';
import type { AdapterTensor, ModuleAdapter, ModuleInfo, VariantDefinition } from './adapter';
import { foldDelta } from './additive-merge';

export interface VeraConfig {
  r: number;
  /** Seed of the shared projections (PEFT's `projection_prng_key`). */
  projectionPrngKey: number;
  dropout: number;
  /** Initial value of every λ_d entry. */
  dInitial: number;
}

export const VERA_DEFAULTS: VeraConfig = { r: 256, projectionPrngKey: 0, dropout: 0, dInitial: 0.1 };

/** The set-level frozen projections, one pair for every module. */
export interface VeraShared {
  a: tf.Variable; // [r, max_in]
  b: tf.Variable; // [max_out, r]
}

const KEY_A = 'base_model.vera_A';
const KEY_B = 'base_model.vera_B';

/** PEFT's `_kaiming_init`: U(-sqrt(6 / fan_in), sqrt(6 / fan_in)), fan_in = shape[1]. */
function kaimingUniform(shape: [number, number], rng: Rng): tf.Variable {
  const bound = Math.sqrt(6 / shape[1]);
  const data = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * bound;
  return tf.tidy(() => tf.variable(tf.tensor2d(data, shape), false));
}

function checkShape(what: string, t: AdapterTensor | undefined, shape: number[]): AdapterTensor {
  if (!t) throw new Error(`VeRA import: missing '${what}'`);
  if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
    throw new Error(`VeRA import: '${what}' has shape [${t.shape}], expected [${shape}] (r, target_modules or base model differ)`);
  }
  return t;
}

export class VeraModule implements ModuleAdapter {
  readonly lambdaD: tf.Variable; // [r]
  readonly lambdaB: tf.Variable; // [out]
  private isMerged = false;

  constructor(
    readonly info: ModuleInfo,
    readonly config: VeraConfig,
    private readonly rng: Rng,
    /** The set's projections: the same two variables in every module. */
    readonly shared: VeraShared,
  ) {
    this.lambdaD = tf.tidy(() => tf.variable(tf.fill([config.r], config.dInitial, 'float32'), true));
    this.lambdaB = tf.tidy(() => tf.variable(tf.zeros([info.outFeatures]), true));
  }

  get merged(): boolean {
    return this.isMerged;
  }

  /** This module's top-left slices: A_s[:, :in] and B_s[:out, :]. */
  private projections(): [tf.Tensor2D, tf.Tensor2D] {
    const { r } = this.config;
    return [
      tf.slice(this.shared.a, [0, 0], [r, this.info.inFeatures]) as tf.Tensor2D,
      tf.slice(this.shared.b, [0, 0], [this.info.outFeatures, r]) as tf.Tensor2D,
    ];
  }

  forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    if (this.isMerged) return baseOut;
    return tf.tidy(() => {
      const rate = this.config.dropout;
      const xd = ctx.training && rate > 0 ? tf.dropout(x, rate, undefined, this.rng.nextUint32()) : x;
      const [a, b] = this.projections();
      const down = tf.mul(tf.matMul(xd, a, false, true), this.lambdaD);
      return tf.add(baseOut, tf.mul(tf.matMul(down, b, false, true), this.lambdaB)) as tf.Tensor2D;
    });
  }

  /** ΔW = (λ_b ⊙ B_s) (λ_d ⊙ A_s), transposed to Conv1D `[in, out]`. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      const [a, b] = this.projections();
      const da = tf.mul(a, tf.reshape(this.lambdaD, [-1, 1]));
      const bb = tf.mul(b, tf.reshape(this.lambdaB, [-1, 1]));
      return tf.matMul(da, bb, true, true) as tf.Tensor2D;
    });
  }

  merge(): void {
    this.isMerged = foldDelta(this, this.isMerged, true);
  }

  unmerge(): void {
    this.isMerged = foldDelta(this, this.isMerged, false);
  }

  trainableVariables(): Array<[string, tf.Variable]> {
    return [
      ['vera_lambda_b', this.lambdaB],
      ['vera_lambda_d', this.lambdaD],
    ];
  }

  parameterCount(): number {
    return this.lambdaB.size + this.lambdaD.size;
  }

  async exportTensors(): Promise<Record<string, AdapterTensor>> {
    return {
      vera_lambda_b: { shape: [...this.lambdaB.shape], data: (await this.lambdaB.data()) as Float32Array },
      vera_lambda_d: { shape: [...this.lambdaD.shape], data: (await this.lambdaD.data()) as Float32Array },
    };
  }

  importTensors(tensors: Record<string, AdapterTensor>): void {
    const b = checkShape(`${this.info.path}.vera_lambda_b`, tensors.vera_lambda_b, this.lambdaB.shape);
    const d = checkShape(`${this.info.path}.vera_lambda_d`, tensors.vera_lambda_d, this.lambdaD.shape);
    tf.tidy(() => {
      this.lambdaB.assign(tf.tensor1d(b.data, 'float32'));
      this.lambdaD.assign(tf.tensor1d(d.data, 'float32'));
    });
  }

  dispose(): void {
    this.lambdaB.dispose();
    this.lambdaD.dispose();
  }
}

function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`adapter_config.json: '${key}' must be a number (got ${JSON.stringify(v)})`);
  return v;
}

export const veraVariant: VariantDefinition<VeraConfig, VeraShared> = {
  name: 'vera',
  defaults: VERA_DEFAULTS,
  validate(config) {
    if (!Number.isInteger(config.r) || config.r <= 0) throw new Error(`VeRA config: r must be a positive integer (got ${config.r})`);
    if (!Number.isSafeInteger(config.projectionPrngKey))
      throw new Error(`VeRA config: projectionPrngKey must be an integer (got ${config.projectionPrngKey})`);
    if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`VeRA config: dropout must be in [0, 1) (got ${config.dropout})`);
    if (!Number.isFinite(config.dInitial)) throw new Error(`VeRA config: dInitial must be a number (got ${config.dInitial})`);
  },
  // PEFT's _init_vera_A_vera_B: sized to the largest in/out of the targets, A drawn before B, from
  // a generator of its own seeded by projection_prng_key (not the set's seed).
  prepare(modules, config) {
    const maxIn = Math.max(...modules.map((m) => m.inFeatures));
    const maxOut = Math.max(...modules.map((m) => m.outFeatures));
    const rng = new Rng(config.projectionPrngKey);
    const a = kaimingUniform([config.r, maxIn], rng);
    const b = kaimingUniform([maxOut, config.r], rng);
    return { a, b };
  },
  create: (module, config, rng, shared) => new VeraModule(module, config, rng, shared),
  async exportShared(shared) {
    return {
      [KEY_A]: { shape: [...shared.a.shape], data: (await shared.a.data()) as Float32Array },
      [KEY_B]: { shape: [...shared.b.shape], data: (await shared.b.data()) as Float32Array },
    };
  },
  importShared(shared, tensors) {
    const unknown = Object.keys(tensors).filter((k) => k !== KEY_A && k !== KEY_B);
    if (unknown.length > 0) throw new Error(`VeRA import: tensor '${unknown[0]}' belongs to no adapted module and is not vera_A/vera_B`);
    const missing = (k: string) =>
      `VeRA import: '${k}' is missing; the folder was saved with save_projection false, and torch's generator cannot be reproduced here`;
    if (!tensors[KEY_A]) throw new Error(missing(KEY_A));
    if (!tensors[KEY_B]) throw new Error(missing(KEY_B));
    const a = checkShape(KEY_A, tensors[KEY_A], shared.a.shape);
    const b = checkShape(KEY_B, tensors[KEY_B], shared.b.shape);
    tf.tidy(() => {
      shared.a.assign(tf.tensor(a.data, a.shape, 'float32'));
      shared.b.assign(tf.tensor(b.data, b.shape, 'float32'));
    });
  },
  disposeShared(shared) {
    if (!shared.a.isDisposed) shared.a.dispose();
    if (!shared.b.isDisposed) shared.b.dispose();
  },
  peftConfig(config, ctx) {
    return {
      peft_type: 'VERA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: ctx.baseModelNameOrPath,
      r: config.r,
      target_modules: ctx.targetModules,
      projection_prng_key: config.projectionPrngKey,
      save_projection: true,
      vera_dropout: config.dropout,
      d_initial: config.dInitial,
      fan_in_fan_out: true,
      bias: 'none',
      init_weights: true,
      inference_mode: true,
      modules_to_save: null,
      layers_to_transform: null,
      layers_pattern: null,
      revision: null,
    };
  },
  matchesPeft: (cfg) => cfg.peft_type === 'VERA',
  configFromPeft(cfg) {
    if (cfg.save_projection === false) {
      throw new Error(
        "adapter_config.json: VeRA with save_projection false cannot be loaded: vera_A/vera_B come from torch's generator, which we cannot reproduce; re-save with save_projection true",
      );
    }
    if (cfg.bias !== undefined && cfg.bias !== 'none')
      throw new Error(`adapter_config.json: bias '${String(cfg.bias)}' is not supported (only "none")`);
    return {
      r: num(cfg, 'r', VERA_DEFAULTS.r),
      projectionPrngKey: num(cfg, 'projection_prng_key', VERA_DEFAULTS.projectionPrngKey),
      dropout: num(cfg, 'vera_dropout', VERA_DEFAULTS.dropout),
      dInitial: num(cfg, 'd_initial', VERA_DEFAULTS.dInitial),
    };
  },
};

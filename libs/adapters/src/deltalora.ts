// Delta-LoRA (Zi et al. 2023; not in PEFT): LoRA without dropout whose frozen base also moves,
// after every optimizer step t > K: W ← W + λ·s·(B_{t+1}A_{t+1} − B_t A_t), assigned in place (W has
// no gradient and no optimizer state). The updates telescope, so the trained model is
// W0 + s((1+λ) B_T A_T − λ B_K A_K): exported as that rank-2r LoRA over the original base.
import * as tf from '@tensorflow/tfjs-core';
import { constant, type Rng } from '@lora/engine';
import type { AdapterTensor, ModuleInfo, VariantDefinition } from './adapter';
import { LORA_DEFAULTS, LoraModule, loraVariant, type LoraConfig } from './lora';

export interface DeltaLoraConfig extends LoraConfig {
  /** λ: how much of each step's change of B A also goes into W. */
  lambda: number;
  /** K: W moves only after this many optimizer steps. */
  startStep: number;
}

export const DELTALORA_DEFAULTS: DeltaLoraConfig = { ...LORA_DEFAULTS, lambda: 2, startStep: 500 };

export class DeltaLoraModule extends LoraModule {
  // A_t, B_t from before the current step, and A_K, B_K (the first snapshot: after step K).
  private readonly prevA: tf.Variable;
  private readonly prevB: tf.Variable;
  private readonly startA: tf.Variable;
  private readonly startB: tf.Variable;
  /** Whether W has started moving (A_K, B_K are recorded). */
  private started = false;

  constructor(info: ModuleInfo, config: DeltaLoraConfig, rng: Rng) {
    super(info, config, rng);
    // Allocated up front so the number of live tensors stays the same across steps.
    const zeros = (v: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(v), false));
    this.prevA = zeros(this.a);
    this.prevB = zeros(this.b);
    this.startA = zeros(this.a);
    this.startB = zeros(this.b);
  }

  get lambda(): number {
    return (this.config as DeltaLoraConfig).lambda;
  }

  /** Before an optimizer step t > K: keep A_t, B_t (and A_K, B_K the first time). */
  snapshot(): void {
    this.prevA.assign(this.a);
    this.prevB.assign(this.b);
    if (!this.started) {
      this.startA.assign(this.a);
      this.startB.assign(this.b);
      this.started = true;
    }
  }

  /** After the step: W ← W + λ·s·(B A − B_t A_t), in W's Conv1D layout `[in, out]`. */
  updateBase(): void {
    const w = this.info.weight;
    tf.tidy(() => {
      const delta = tf.sub(tf.matMul(this.a, this.b, true, true), tf.matMul(this.prevA, this.prevB, true, true));
      w.assign(tf.add(w, tf.mul(delta, constant(this.lambda * this.scaling))));
    });
  }

  /**
   * The rank-2r LoRA of the trained model over the ORIGINAL base: `lora_A = [A_T; A_K]`,
   * `lora_B = [(1+λ) B_T, −λ B_K]` (before W has moved: `[B_T, 0]`).
   */
  override async exportTensors(): Promise<Record<string, AdapterTensor>> {
    const lambda = this.started ? this.lambda : 0;
    const [a, b] = tf.tidy(() => [
      tf.concat([this.a, this.startA], 0),
      tf.concat([tf.mul(this.b, constant(1 + lambda)), tf.mul(this.startB, constant(-lambda))], 1),
    ]);
    try {
      return {
        'lora_A.weight': { shape: [...a.shape], data: (await a.data()) as Float32Array },
        'lora_B.weight': { shape: [...b.shape], data: (await b.data()) as Float32Array },
      };
    } finally {
      a.dispose();
      b.dispose();
    }
  }

  override importTensors(): void {
    throw new Error(
      `Delta-LoRA import (${this.info.path}): its export is a rank-2r LoRA over the original base; load it with the LoRA variant (AdapterSet.fromPeft)`,
    );
  }

  override dispose(): void {
    for (const v of [this.prevA, this.prevB, this.startA, this.startB]) v.dispose();
    super.dispose();
  }
}

export const deltaLoraVariant: VariantDefinition<DeltaLoraConfig> = {
  name: 'deltalora',
  defaults: DELTALORA_DEFAULTS,
  validate(config) {
    loraVariant.validate?.(config);
    if (config.dropout !== 0)
      throw new Error(`Delta-LoRA config: dropout must be 0 (Delta-LoRA has no dropout on the adapter; got ${config.dropout})`);
    if (!(typeof config.lambda === 'number' && Number.isFinite(config.lambda) && config.lambda >= 0))
      throw new Error(`Delta-LoRA config: lambda must be a number >= 0 (got ${String(config.lambda)})`);
    if (!(Number.isInteger(config.startStep) && config.startStep >= 0))
      throw new Error(`Delta-LoRA config: startStep must be an integer >= 0 (got ${String(config.startStep)})`);
  },
  create(module, config, rng) {
    if (module.weight.trainable) {
      throw new Error(
        `Delta-LoRA: the base weight of ${module.path} is trainable; freeze the model (Delta-LoRA moves W itself, without gradients)`,
      );
    }
    return new DeltaLoraModule(module, config, rng);
  },
  beforeStep(ctx, step) {
    if (step > ctx.config.startStep) for (const m of ctx.modules as DeltaLoraModule[]) m.snapshot();
  },
  afterStep(ctx, { step }) {
    if (step > ctx.config.startStep) for (const m of ctx.modules as DeltaLoraModule[]) m.updateBase();
  },
  // A plain LoRA of rank 2r; the scaling must stay s, so alpha doubles (or × sqrt 2 with rsLoRA).
  peftConfig: (config, ctx) =>
    loraVariant.peftConfig({ ...config, r: 2 * config.r, alpha: config.useRslora ? config.alpha * Math.SQRT2 : 2 * config.alpha }, ctx),
  matchesPeft: () => false,
  configFromPeft(cfg) {
    throw new Error(`Delta-LoRA: an exported Delta-LoRA is a plain LoRA (r ${String(cfg.r)}); load it with the LoRA variant`);
  },
};

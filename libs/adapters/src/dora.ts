// DoRA (Liu et al. 2024, PEFT's DoraLinearLayer): W' = m ⊙ (W + s·B A) / ||W + s·B A||, the norm
// per output row and detached from the gradient; m [out] starts at ||W|| so step 0 is the base model.
import * as tf from '@tensorflow/tfjs-core';
import { constant, type ForwardContext, type Rng } from '@lora/engine';
import type { AdapterTensor, ModuleAdapter, ModuleInfo, VariantDefinition } from './adapter';
import { LORA_DEFAULTS, LoraConfig, LoraModule, loraVariant } from './lora';

export type DoraConfig = LoraConfig;

const MAGNITUDE = 'lora_magnitude_vector';

export class DoraModule extends LoraModule {
  /** The magnitude `m [out]`, trainable. */
  readonly m: tf.Variable;
  /** `||W + s·B A||` per output, as a constant of the backward pass (zero gradient to A and B). */
  private readonly detachedNorm: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor1D;
  /** The weight norm at merge time; unmerge divides by the same factor merge multiplied by. */
  private mergedNorm: tf.Tensor1D | null = null;

  constructor(info: ModuleInfo, config: DoraConfig, rng: Rng) {
    super(info, config, rng);
    // customGrad's forward runs off the tape: the norm's graph is neither recorded nor differentiated.
    this.detachedNorm = tf.customGrad((...args) => {
      const [a, b] = args as [tf.Tensor, tf.Tensor];
      return { value: this.weightNorm(a, b), gradFunc: () => [tf.zerosLike(a), tf.zerosLike(b)] };
    }) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor1D;
    this.m = tf.tidy(() => tf.variable(this.weightNorm(this.a, this.b), true));
  }

  /** Row norms of `W + s·B A` over `in`; W is stored `[in, out]`, so the norm runs down axis 0. */
  weightNorm(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const v = tf.add(this.info.weight, tf.mul(tf.matMul(a, b, true, true), constant(this.scaling)));
      return tf.sqrt(tf.sum(tf.square(v), 0)) as tf.Tensor1D;
    });
  }

  // PEFT: result + (g - 1) ⊙ (x' W) + g ⊙ s·(x' Aᵀ Bᵀ), g = m / ||W + s B A||; x' is the dropped-out
  // input in training with dropout (x' W recomputed), else x (x W = baseOut - b, exact at step 0).
  override forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    if (this.isMerged) return baseOut;
    return tf.tidy(() => {
      const g = tf.div(this.m, this.detachedNorm(this.a, this.b));
      const rate = this.config.dropout;
      const dropped = ctx.training && rate > 0;
      const xd = dropped ? tf.dropout(x, rate, undefined, this.rng.nextUint32()) : x;
      const baseNoBias = dropped ? tf.matMul(xd, this.info.weight) : tf.sub(baseOut, this.info.bias);
      const lora = tf.matMul(tf.mul(tf.matMul(xd, this.a, false, true), constant(this.scaling)), this.b, false, true);
      return tf.add(tf.add(baseOut, tf.mul(tf.sub(g, constant(1)), baseNoBias)), tf.mul(g, lora)) as tf.Tensor2D;
    });
  }

  override trainableVariables(): Array<[string, tf.Variable]> {
    return [...super.trainableVariables(), [MAGNITUDE, this.m]];
  }

  override parameterCount(): number {
    return super.parameterCount() + this.m.size;
  }

  override async exportTensors(): Promise<Record<string, AdapterTensor>> {
    return { ...(await super.exportTensors()), [MAGNITUDE]: { shape: [...this.m.shape], data: (await this.m.data()) as Float32Array } };
  }

  override importTensors(tensors: Record<string, AdapterTensor>): void {
    const t = tensors[MAGNITUDE];
    if (!t) throw new Error(`DoRA import: missing '${MAGNITUDE}' for module ${this.info.path} (is this a plain LoRA folder?)`);
    if (t.shape.length !== 1 || t.shape[0] !== this.info.outFeatures) {
      throw new Error(`DoRA import: '${MAGNITUDE}' of ${this.info.path} has shape [${t.shape}], expected [${this.info.outFeatures}]`);
    }
    super.importTensors(tensors);
    tf.tidy(() => this.m.assign(tf.tensor1d(t.data, 'float32')));
  }

  // PEFT: W' = (m / ||W + ΔW||) ⊙ (W + ΔW); unmerge: W = W' / (m / norm_at_merge) - ΔW.
  override merge(): void {
    if (this.isMerged) return;
    const w = this.info.weight;
    this.mergedNorm = tf.keep(this.weightNorm(this.a, this.b));
    tf.tidy(() => w.assign(tf.mul(tf.div(this.m, this.mergedNorm!), tf.add(w, this.deltaWeight()))));
    this.isMerged = true;
  }

  override unmerge(): void {
    if (!this.isMerged || !this.mergedNorm) return;
    const w = this.info.weight;
    const norm = this.mergedNorm;
    tf.tidy(() => w.assign(tf.sub(tf.div(w, tf.div(this.m, norm)), this.deltaWeight())));
    norm.dispose();
    this.mergedNorm = null;
    this.isMerged = false;
  }

  override dispose(): void {
    super.dispose();
    this.m.dispose();
    this.mergedNorm?.dispose();
    this.mergedNorm = null;
  }
}

export const doraVariant: VariantDefinition<DoraConfig> = {
  name: 'dora',
  defaults: LORA_DEFAULTS,
  validate: (config) => loraVariant.validate?.(config),
  create: (module, config, rng): ModuleAdapter => new DoraModule(module, config, rng),
  peftConfig: (config, ctx) => ({ ...loraVariant.peftConfig(config, ctx), use_dora: true }),
  matchesPeft: (cfg) => cfg.peft_type === 'LORA' && cfg.use_dora === true,
  configFromPeft: (cfg) => loraVariant.configFromPeft(cfg),
};

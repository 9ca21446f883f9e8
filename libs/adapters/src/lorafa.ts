// LoRA-FA (Zhang et al. 2023, PEFT's LoraFAOptimizer): LoRA with A frozen at its random init, only
// B trains. Optional (default on) correction of B's gradient, g_B' = (1/s²) g_B (A Aᵀ + 1e-8 I)⁺,
// with the r×r pseudo-inverse computed once on the host (A never changes). Exports as LoRA.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@lora/engine';
import type { AdapterTensor, ModuleInfo, VariantDefinition } from './adapter';
import { LORA_DEFAULTS, LoraModule, loraVariant, type LoraConfig } from './lora';

export interface LoraFaConfig extends LoraConfig {
  /** PEFT's LoRA-FA optimizer correction of B's gradient. */
  gradientCorrection: boolean;
}

export const LORAFA_DEFAULTS: LoraFaConfig = { ...LORA_DEFAULTS, gradientCorrection: true };

/** PEFT's `delta` added to A Aᵀ before the inverse. */
const DELTA = 1e-8;

/**
 * Moore–Penrose pseudo-inverse of a symmetric `n×n` matrix (row-major, float64), as
 * `torch.linalg.pinv` computes it for float32 input: singular values at or below
 * `n · eps_f32 · σ_max` are dropped. Cyclic Jacobi eigendecomposition: exact to float64 rounding
 * for the small r×r matrices here, and the well-conditioned case is the plain inverse.
 */
export function symmetricPinv(m: Float64Array, n: number, rtol = n * 2 ** -23): Float64Array {
  const a = Float64Array.from(m);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (const x of a) total += x * x;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off <= (Number.EPSILON * Number.EPSILON * total) / 4 || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const lambda = Array.from({ length: n }, (_, i) => a[i * n + i]);
  const cutoff = rtol * Math.max(0, ...lambda.map(Math.abs));
  const out = new Float64Array(n * n);
  for (let e = 0; e < n; e++) {
    if (!(Math.abs(lambda[e]) > cutoff)) continue;
    const inv = 1 / lambda[e];
    for (let i = 0; i < n; i++) {
      const vi = v[i * n + e] * inv;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * v[j * n + e];
    }
  }
  return out;
}

export class LoraFaModule extends LoraModule {
  /** `(1/s²) (A Aᵀ + 1e-8 I)⁺` `[r, r]`, or null when the correction is off. */
  correction: tf.Tensor2D | null = null;

  constructor(info: ModuleInfo, config: LoraFaConfig, rng: Rng) {
    super(info, config, rng);
    // Frozen: not in the optimizer, no gradient computed for it.
    this.a.trainable = false;
    this.refreshCorrection(this.aInit!);
  }

  override trainableVariables(): Array<[string, tf.Variable]> {
    return [['lora_B.weight', this.b]];
  }

  override parameterCount(): number {
    return this.b.size;
  }

  override importTensors(tensors: Record<string, AdapterTensor>): void {
    super.importTensors(tensors);
    this.refreshCorrection(tensors['lora_A.weight'].data);
  }

  override dispose(): void {
    this.correction?.dispose();
    this.correction = null;
    super.dispose();
  }

  /** From A's values on the host (its init or an import): never a device read. */
  private refreshCorrection(a: Float32Array): void {
    this.correction?.dispose();
    this.correction = null;
    if (!(this.config as LoraFaConfig).gradientCorrection) return;
    const { r } = this.config;
    const n = this.info.inFeatures;
    const aat = new Float64Array(r * r);
    for (let i = 0; i < r; i++) {
      for (let j = i; j < r; j++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += a[i * n + k] * a[j * n + k];
        aat[i * r + j] = sum;
        aat[j * r + i] = sum;
      }
      aat[i * r + i] += DELTA;
    }
    const pinv = symmetricPinv(aat, r);
    const k = 1 / (this.scaling * this.scaling);
    this.correction = tf.keep(
      tf.tensor2d(
        Float32Array.from(pinv, (x) => x * k),
        [r, r],
      ),
    );
  }
}

export const loraFaVariant: VariantDefinition<LoraFaConfig> = {
  name: 'lorafa',
  defaults: LORAFA_DEFAULTS,
  validate(config) {
    loraVariant.validate?.(config);
    if (typeof config.gradientCorrection !== 'boolean')
      throw new Error(`LoRA-FA config: gradientCorrection must be true or false (got ${JSON.stringify(config.gradientCorrection)})`);
  },
  create: (module, config, rng) => new LoraFaModule(module, config, rng),
  transformGradients(ctx, grads) {
    if (!ctx.config.gradientCorrection) return grads;
    const out = { ...grads };
    for (const m of ctx.modules as LoraFaModule[]) {
      const key = `${m.info.path}.lora_B.weight`;
      const g = grads[key];
      if (g && m.correction) out[key] = tf.matMul(g as tf.Tensor2D, m.correction);
    }
    return out;
  },
  // A trained LoRA-FA adapter is a plain LoRA (A included): PEFT and our import read it as one.
  peftConfig: (config, ctx) => loraVariant.peftConfig(config, ctx),
  matchesPeft: () => false,
  configFromPeft: (cfg) => ({ ...loraVariant.configFromPeft(cfg), gradientCorrection: LORAFA_DEFAULTS.gradientCorrection }),
};

// Adam (Kingma & Ba) with per-group learning-rate scales, optional decoupled weight decay (AdamW,
// Loshchilov & Hutter, as torch.optim.AdamW) and global-norm clipping, written out so its state is
// keyed by stable variable names and can be saved and restored.
import * as tf from '@tensorflow/tfjs-core';
import type { ParamGroup } from './adapter-hooks';
import { constant } from './constants';
import { fusedAdamUpdate, fusedKernelsActive } from './webgpu-kernels';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay for groups that do not set their own (default 0: plain Adam). */
  weightDecay?: number;
}

export interface AdamState {
  step: number;
  m: Record<string, { shape: number[]; data: Float32Array }>;
  v: Record<string, { shape: number[]; data: Float32Array }>;
}

interface Slot {
  variable: tf.Variable;
  lrScale: number;
  weightDecay: number;
  /** The moments; on webgpu (fused update) both in `mv`, flat `[2·size]`, m then v. */
  m?: tf.Variable;
  v?: tf.Variable;
  mv?: tf.Variable;
}

export class Adam {
  private readonly slots = new Map<string, Slot>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private t = 0;
  /** The fused webgpu update (decided once: the moments' layout depends on it). */
  private readonly fused = fusedKernelsActive();

  constructor(groups: ParamGroup[], options: AdamOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    for (const g of groups) {
      const weightDecay = g.weightDecay ?? options.weightDecay ?? 0;
      if (!(weightDecay >= 0)) throw new Error(`Adam: weightDecay of group '${g.name}' must be >= 0 (got ${weightDecay})`);
      for (const [name, variable] of g.variables) {
        if (this.slots.has(name)) throw new Error(`Adam: variable '${name}' is in two parameter groups`);
        // tidy: the zeros tensors die, the variables keep their buffers.
        const zeros = (shape: number[]) => tf.tidy(() => tf.variable(tf.zeros(shape), false));
        if (this.fused) this.slots.set(name, { variable, lrScale: g.lrScale, weightDecay, mv: zeros([2 * variable.size]) });
        else this.slots.set(name, { variable, lrScale: g.lrScale, weightDecay, m: zeros(variable.shape), v: zeros(variable.shape) });
      }
    }
  }

  get stepCount(): number {
    return this.t;
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  /**
   * One update from gradients keyed by variable name (missing names are skipped). With weight
   * decay, as torch's AdamW: `w ← w · (1 − lr · lrScale · wd)` first, then the Adam step.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    if (this.fused) return this.applyFused(grads, lr, c1, c2);
    tf.tidy(() => {
      const b1 = constant(this.beta1);
      const b2 = constant(this.beta2);
      const nb1 = constant(1 - this.beta1);
      const nb2 = constant(1 - this.beta2);
      const eps = constant(this.epsilon);
      const invC2 = tf.scalar(1 / c2);
      const steps = new Map<number, tf.Scalar>();
      for (const [name, s] of this.slots) {
        const g = grads[name];
        if (!g) continue;
        let stepSize = steps.get(s.lrScale);
        if (!stepSize) steps.set(s.lrScale, (stepSize = tf.scalar((-lr * s.lrScale) / c1)));
        const m = tf.add(tf.mul(s.m!, b1), tf.mul(g, nb1));
        const v = tf.add(tf.mul(s.v!, b2), tf.mul(tf.square(g), nb2));
        s.m!.assign(m);
        s.v!.assign(v);
        const w = s.weightDecay > 0 ? tf.mul(s.variable, tf.scalar(1 - lr * s.lrScale * s.weightDecay)) : s.variable;
        s.variable.assign(tf.add(w, tf.mul(stepSize, tf.div(m, tf.add(tf.sqrt(tf.mul(v, invC2)), eps)))));
      }
    });
  }

  /** The same update as one fused op per variable (webgpu); this step's scalars in one small tensor. */
  private applyFused(grads: Record<string, tf.Tensor>, lr: number, c1: number, c2: number): void {
    tf.tidy(() => {
      const h = tf.tensor1d([lr / c1, 1 / c2, lr]);
      for (const [name, s] of this.slots) {
        const g = grads[name];
        if (!g) continue;
        const [mv, w] = fusedAdamUpdate(s.variable, s.mv!, g, h, {
          beta1: this.beta1,
          beta2: this.beta2,
          eps: this.epsilon,
          lrScale: s.lrScale,
          weightDecay: s.weightDecay,
        });
        s.mv!.assign(mv);
        s.variable.assign(w);
      }
    });
  }

  async getState(): Promise<AdamState> {
    const state: AdamState = { step: this.t, m: {}, v: {} };
    for (const [name, s] of this.slots) {
      const shape = [...s.variable.shape];
      if (s.mv) {
        const mv = (await s.mv.data()) as Float32Array;
        state.m[name] = { shape, data: mv.slice(0, s.variable.size) };
        state.v[name] = { shape, data: mv.slice(s.variable.size) };
      } else {
        state.m[name] = { shape, data: (await s.m!.data()) as Float32Array };
        state.v[name] = { shape, data: (await s.v!.data()) as Float32Array };
      }
    }
    return state;
  }

  setState(state: AdamState): void {
    for (const [name, s] of this.slots) {
      const m = state.m[name];
      const v = state.v[name];
      if (!m || !v) throw new Error(`Adam.setState: the saved state has no moments for '${name}' (different adapters or targets?)`);
      if (m.data.length !== s.variable.size || v.data.length !== s.variable.size) {
        throw new Error(`Adam.setState: moments of '${name}' have ${m.data.length} values, the variable has ${s.variable.size}`);
      }
      tf.tidy(() => {
        if (s.mv) {
          const mv = new Float32Array(2 * s.variable.size);
          mv.set(m.data);
          mv.set(v.data, s.variable.size);
          s.mv.assign(tf.tensor1d(mv));
        } else {
          s.m!.assign(tf.tensor(m.data, s.variable.shape, 'float32'));
          s.v!.assign(tf.tensor(v.data, s.variable.shape, 'float32'));
        }
      });
    }
    this.t = state.step;
  }

  dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v, s.mv].filter((x): x is tf.Variable => x !== undefined));
    this.slots.clear();
  }
}

/** Scales gradients so their global L2 norm is at most `maxNorm` (on device, no host read). */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares));
    const scale = tf.div(constant(maxNorm), tf.maximum(norm, constant(maxNorm)));
    return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
  });
}

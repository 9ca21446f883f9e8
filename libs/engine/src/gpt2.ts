// GPT-2 decoder (pre-LN, causal self-attention, gelu_new, lm_head tied to wte) over explicit
// weights named as Hugging Face names them. Projections call attached adapters through the
// ModelAdapters seam; nothing variant-specific lives here.
import * as tf from '@tensorflow/tfjs-core';
import { constant } from './constants';
import { normalizeRows } from './layer-norm';
import { wasmFusedActive } from './wasm-fused';
import { fusedAttentionActive, fusedCausalAttention, fusedGeluNew, fusedKernelsActive, fusedLayerNorm } from './webgpu-kernels';
import type { ForwardContext, ModelAdapters } from './adapter-hooks';
import type { Gpt2Config } from './io/hf-config';
import { Rng } from './io/rng';

export interface ForwardOptions {
  adapters?: ModelAdapters;
  training?: boolean;
}

/** A projection an adapter can attach to (`inFeatures`/`outFeatures` of `y = x W + b`). */
export interface ProjectionModule {
  path: string;
  inFeatures: number;
  outFeatures: number;
  /**
   * The frozen base weight in GPT-2's Conv1D layout `[in, out]` and its bias `[out]`. Variants that
   * read W (DoRA's norm) or write it (Delta-LoRA, merge/unmerge) use these; others ignore them.
   */
  weight: tf.Variable;
  bias: tf.Variable;
}

/** Host-side weights: float32 values in row-major order. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export const PROJECTIONS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

/** Expected weight names (no `transformer.` prefix) and shapes, in a stable order. */
export function gpt2WeightShapes(c: Gpt2Config): Array<[string, number[]]> {
  const d = c.nEmbd;
  const inner = c.nInner ?? 4 * d;
  const out: Array<[string, number[]]> = [
    ['wte.weight', [c.vocabSize, d]],
    ['wpe.weight', [c.nPositions, d]],
  ];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    out.push(
      [`${p}ln_1.weight`, [d]],
      [`${p}ln_1.bias`, [d]],
      [`${p}attn.c_attn.weight`, [d, 3 * d]],
      [`${p}attn.c_attn.bias`, [3 * d]],
      [`${p}attn.c_proj.weight`, [d, d]],
      [`${p}attn.c_proj.bias`, [d]],
      [`${p}ln_2.weight`, [d]],
      [`${p}ln_2.bias`, [d]],
      [`${p}mlp.c_fc.weight`, [d, inner]],
      [`${p}mlp.c_fc.bias`, [inner]],
      [`${p}mlp.c_proj.weight`, [inner, d]],
      [`${p}mlp.c_proj.bias`, [d]],
    );
  }
  out.push(['ln_f.weight', [d]], ['ln_f.bias', [d]]);
  if (c.tieWordEmbeddings === false) out.push(['lm_head.weight', [c.vocabSize, d]]);
  return out;
}

function validateDims(c: Gpt2Config): void {
  for (const k of ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`GPT-2 config: ${k} must be a positive integer (got ${c[k]})`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`GPT-2 config: n_embd ${c.nEmbd} is not divisible by n_head ${c.nHead}`);
}

/**
 * Maps a checkpoint key to our canonical name (HF's, without `transformer.`); undefined for keys
 * to skip: the causal-mask buffers, and lm_head when it is tied to wte.
 */
export function canonicalWeightName(key: string, tied = true): string | undefined {
  const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) return undefined;
  if (name === 'lm_head.weight' && tied) return undefined;
  return name;
}

/**
 * float32 one-hot rows. wasm's OneHot kernel ignores the dtype argument and writes int32 bits into
 * a float32 buffer (1 reads as 1.4e-45), so build int32 and cast: right on every backend.
 */
export function oneHotF32(ids: tf.Tensor, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(ids as tf.Tensor1D, depth), 'float32') as tf.Tensor2D;
}

export class Gpt2Model {
  readonly config: Gpt2Config;
  private readonly vars = new Map<string, tf.Variable>();
  private readonly masks = new Map<number, tf.Tensor2D>();
  private readonly modules: ProjectionModule[];

  private constructor(config: Gpt2Config, values: Map<string, tf.Tensor>, trainable: boolean) {
    validateDims(config);
    this.config = { ...config };
    for (const [name, shape] of gpt2WeightShapes(config)) {
      const t = values.get(name);
      if (!t) throw new Error(`GPT-2 weights: missing tensor '${name}' (shape [${shape}])`);
      if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
        throw new Error(`GPT-2 weights: '${name}' has shape [${t.shape}], config implies [${shape}]`);
      }
      this.vars.set(name, tf.variable(t, trainable));
    }
    const d = config.nEmbd;
    const inner = config.nInner ?? 4 * d;
    this.modules = [];
    for (let i = 0; i < config.nLayer; i++) {
      const dims: Record<string, [number, number]> = {
        'attn.c_attn': [d, 3 * d],
        'attn.c_proj': [d, d],
        'mlp.c_fc': [d, inner],
        'mlp.c_proj': [inner, d],
      };
      for (const p of PROJECTIONS) {
        this.modules.push({
          path: `transformer.h.${i}.${p}`,
          inFeatures: dims[p][0],
          outFeatures: dims[p][1],
          weight: this.weight(`h.${i}.${p}.weight`),
          bias: this.weight(`h.${i}.${p}.bias`),
        });
      }
    }
  }

  /**
   * Random init as GPT-2: N(0, 0.02) for embeddings and projections, c_proj weights scaled by
   * 1/sqrt(2 n_layer), zero biases, unit LayerNorm gains. Deterministic from `seed`.
   */
  static random(config: Gpt2Config, options: { seed?: number; trainable?: boolean } = {}): Gpt2Model {
    validateDims(config);
    const rng = new Rng(options.seed ?? 0);
    const values = new Map<string, tf.Tensor>();
    for (const [name, shape] of gpt2WeightShapes(config)) {
      let t: tf.Tensor;
      if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) t = tf.ones(shape);
      else if (name.endsWith('.bias')) t = tf.zeros(shape);
      else {
        const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02;
        const vals = new Float32Array(shape[0] * shape[1]);
        for (let j = 0; j < vals.length; j++) vals[j] = rng.normal(0, std);
        t = tf.tensor(vals, shape, 'float32');
      }
      values.set(name, t);
    }
    try {
      return new Gpt2Model(config, values, options.trainable ?? true);
    } finally {
      for (const t of values.values()) t.dispose();
    }
  }

  /** Builds a model from checkpoint tensors (`transformer.`-prefixed or not; buffers ignored). */
  static fromWeights(
    config: Gpt2Config,
    weights: Map<string, HostTensor> | Record<string, HostTensor>,
    options: { trainable?: boolean } = {},
  ): Gpt2Model {
    const entries = weights instanceof Map ? [...weights.entries()] : Object.entries(weights);
    const expected = new Set(gpt2WeightShapes(config).map(([n]) => n));
    const values = new Map<string, tf.Tensor>();
    try {
      for (const [key, t] of entries) {
        const name = canonicalWeightName(key, config.tieWordEmbeddings !== false);
        if (name === undefined) continue;
        if (!expected.has(name)) throw new Error(`GPT-2 weights: unexpected tensor '${key}' for a ${config.nLayer}-layer model`);
        values.set(name, tf.tensor(t.data, t.shape, 'float32'));
      }
      return new Gpt2Model(config, values, options.trainable ?? false);
    } finally {
      for (const t of values.values()) t.dispose();
    }
  }

  /** The four adapter-able projections of every block, by HF module path. */
  projectionModules(): ProjectionModule[] {
    return this.modules.map((m) => ({ ...m }));
  }

  weightNames(): string[] {
    return [...this.vars.keys()];
  }

  weight(name: string): tf.Variable {
    const v = this.vars.get(name.startsWith('transformer.') ? name.slice('transformer.'.length) : name);
    if (!v) throw new Error(`GPT-2: no weight named '${name}'`);
    return v;
  }

  /** Freeze (adapter training) or unfreeze (pretraining) every base weight. */
  setTrainable(trainable: boolean): void {
    for (const v of this.vars.values()) v.trainable = trainable;
  }

  namedTrainableVariables(): Array<[string, tf.Variable]> {
    return [...this.vars.entries()].filter(([, v]) => v.trainable);
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /** Logits `[B, T, V]` for int32 token ids `[B, T]`. */
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const [b, t] = inputIds.shape;
    return tf.tidy(() => tf.reshape(this.logits2d(inputIds, opts), [b, t, this.config.vocabSize]));
  }

  /** Mean token cross-entropy in nats of `targets [B, T]` under the logits for `inputs [B, T]`. */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.logits2d(inputs, opts);
      // logSoftmax . oneHot instead of a gather: no gather in the differentiated path.
      const onehot = oneHotF32(tf.reshape(targets, [-1]) as tf.Tensor1D, this.config.vocabSize);
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), onehot), -1))) as tf.Scalar;
    });
  }

  /** Summed token NLL (nats) and token count; for exact evaluation over many batches. */
  nllSum(inputs: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.logits2d(inputs, opts);
      const onehot = oneHotF32(tf.reshape(targets, [-1]) as tf.Tensor1D, this.config.vocabSize);
      return tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot))) as tf.Scalar;
    });
  }

  /** Weights under HF names (no `transformer.` prefix), read back asynchronously. */
  async exportWeights(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.vars) out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.vars.clear();
    this.masks.clear();
  }

  private logits2d(inputIds: tf.Tensor2D, opts: ForwardOptions): tf.Tensor2D {
    const { nEmbd: d, vocabSize, nPositions, nLayer } = this.config;
    const [b, t] = inputIds.shape;
    if (t > nPositions) throw new Error(`GPT-2: sequence length ${t} exceeds n_positions ${nPositions}`);
    const ctx: ForwardContext = { training: opts.training ?? false };
    const wte = this.vars.get('wte.weight')!;
    const ids = tf.reshape(inputIds, [b * t]);
    // A gather's gradient needs UnsortedSegmentSum, which wasm lacks: trainable embeddings go
    // through a one-hot matmul (exact, and cheap for small vocabularies).
    const tok = wte.trainable ? tf.matMul(oneHotF32(ids, vocabSize), wte) : tf.gather(wte, ids);
    const pos = tf.slice(this.vars.get('wpe.weight')!, [0, 0], [t, d]);
    let x = tf.reshape(tf.add(tf.reshape(tok, [b, t, d]), pos), [b * t, d]) as tf.Tensor2D;
    for (let i = 0; i < nLayer; i++) {
      const p = `h.${i}.`;
      x = tf.add(x, this.attention(i, this.layerNorm(x, `${p}ln_1`), b, t, opts.adapters, ctx));
      const hidden = this.activation(this.project(i, 'mlp.c_fc', this.layerNorm(x, `${p}ln_2`), opts.adapters, ctx));
      x = tf.add(x, this.project(i, 'mlp.c_proj', hidden, opts.adapters, ctx));
    }
    x = this.layerNorm(x, 'ln_f');
    return tf.matMul(x, this.vars.get('lm_head.weight') ?? wte, false, true);
  }

  private project(
    layer: number,
    module: (typeof PROJECTIONS)[number],
    x: tf.Tensor2D,
    adapters: ModelAdapters | undefined,
    ctx: ForwardContext,
  ): tf.Tensor2D {
    const p = `h.${layer}.${module}`;
    const y = tf.add(tf.matMul(x, this.vars.get(`${p}.weight`)!), this.vars.get(`${p}.bias`)!) as tf.Tensor2D;
    const hook = adapters?.module(`transformer.${p}`);
    return hook ? hook.forward(x, y, ctx) : y;
  }

  private attention(
    layer: number,
    x: tf.Tensor2D,
    b: number,
    t: number,
    adapters: ModelAdapters | undefined,
    ctx: ForwardContext,
  ): tf.Tensor2D {
    const { nEmbd: d, nHead: h } = this.config;
    const hd = d / h;
    const qkv = this.project(layer, 'attn.c_attn', x, adapters, ctx);
    if (fusedAttentionActive(b, t, h, hd)) return this.project(layer, 'attn.c_proj', fusedCausalAttention(qkv, b, t, h), adapters, ctx);
    const [q, k, v] = tf.split(qkv, 3, 1);
    const heads = (z: tf.Tensor): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(z, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]);
    const qs = heads(tf.mul(q, constant(1 / Math.sqrt(hd))));
    const scores = tf.add(tf.matMul(qs, heads(k), false, true), this.causalMask(t));
    const y = tf.matMul(tf.softmax(scores), heads(v));
    const merged = tf.reshape(tf.transpose(tf.reshape(y, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, d]) as tf.Tensor2D;
    return this.project(layer, 'attn.c_proj', merged, adapters, ctx);
  }

  private layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    const gamma = this.vars.get(`${prefix}.weight`)!;
    const beta = this.vars.get(`${prefix}.bias`)!;
    if (fusedKernelsActive(x.shape[0]) || wasmFusedActive(x.shape[1])) return fusedLayerNorm(x, gamma, beta, this.config.layerNormEpsilon);
    return tf.add(tf.mul(normalizeRows(x, this.config.layerNormEpsilon), gamma), beta) as tf.Tensor2D;
  }

  private activation(x: tf.Tensor2D): tf.Tensor2D {
    switch (this.config.activation) {
      case 'relu':
        return tf.relu(x);
      case 'gelu': // exact: 0.5 x (1 + erf(x / sqrt 2))
        return tf.mul(tf.mul(x, constant(0.5)), tf.add(tf.erf(tf.mul(x, constant(Math.SQRT1_2))), constant(1)));
      default:
        return this.geluNew(x);
    }
  }

  // gelu_new: 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). The
  // sigmoid form is the same function, and wasm's sigmoid is ~15x faster than its tanh.
  private geluNew(x: tf.Tensor2D): tf.Tensor2D {
    if (fusedKernelsActive() || wasmFusedActive(tf.util.sizeFromShape(x.shape))) return fusedGeluNew(x);
    const c = 2 * Math.sqrt(2 / Math.PI);
    const u2 = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), constant(0.044715))), constant(c));
    return tf.mul(x, tf.sigmoid(u2)) as tf.Tensor2D;
  }

  /** Additive causal mask `[T, T]`: 0 on and below the diagonal, -1e9 above (kept across calls). */
  private causalMask(t: number): tf.Tensor2D {
    let m = this.masks.get(t);
    if (!m) {
      const vals = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) vals[i * t + j] = -1e9;
      m = tf.keep(tf.tensor2d(vals, [t, t]));
      this.masks.set(t, m);
    }
    return m;
  }
}

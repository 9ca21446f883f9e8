// AdaLoRA (Zhang et al. 2023, PEFT's SVDLinear + RankAllocator): ΔW = P Λ Q with P = lora_B [out, r],
// Λ = diag(lora_E [r, 1]), Q = lora_A [r, in], r = init_r, scaled by alpha / (init_r + 1e-5) as PEFT's
// `scaling / (ranknum + 1e-5)`. After each optimizer step the smoothed sensitivity of every entry
// scores the triplets (E_i, A_i·, B_·i); the lowest-scored E entries are zeroed down to a cubic
// budget schedule. The loss carries PEFT's orthogonality regulariser on A and B.
import * as tf from '@tensorflow/tfjs-core';
import { constant, type ForwardContext, type Rng, type StepContext } from '@lora/engine';
import type { AdapterTensor, ModuleAdapter, ModuleInfo, VariantDefinition } from './adapter';
import { foldDelta } from './additive-merge';

export interface AdaLoraConfig {
  /** Rank every module starts with (PEFT's init_r). */
  initR: number;
  /** Average rank per module at the end (PEFT's target_r): the final budget is targetR · modules. */
  targetR: number;
  alpha: number;
  dropout: number;
  /** Steps of warmup at the full budget. */
  tinit: number;
  /** Last steps, trained at the final budget with a fixed rank pattern. */
  tfinal: number;
  /** Steps between two budget allocations. */
  deltaT: number;
  beta1: number;
  beta2: number;
  orthRegWeight: number;
  /** Total optimizer steps of the run (required: the schedule ends there). */
  totalStep?: number;
  /** Kept triplets per module path (init_r booleans each), from an imported adapter_config.json. */
  rankPattern?: Record<string, boolean[]>;
}

/** PEFT's AdaLoraConfig defaults (lora_alpha 8 and lora_dropout 0 from LoraConfig). */
export const ADALORA_DEFAULTS: AdaLoraConfig = {
  initR: 12,
  targetR: 8,
  alpha: 8,
  dropout: 0,
  tinit: 0,
  tfinal: 0,
  deltaT: 1,
  beta1: 0.85,
  beta2: 0.85,
  orthRegWeight: 0.5,
};

export interface AdaLoraRankRecord {
  step: number;
  /** The schedule's total budget at this step. */
  budget: number;
  /** Kept triplets per module path after this allocation. */
  ranks: Record<string, number>;
}

/** Set-level state: the budget schedule over all adapted modules and the rank history. */
export class AdaLoraAllocator {
  readonly initBudget: number;
  readonly targetBudget: number;
  private readonly history: AdaLoraRankRecord[] = [];

  constructor(
    readonly config: AdaLoraConfig,
    readonly moduleCount: number,
  ) {
    this.initBudget = config.initR * moduleCount;
    this.targetBudget = config.targetR * moduleCount;
  }

  /** PEFT's `budget_schedule`: the total budget at a 1-based step and whether it masks then. */
  schedule(step: number): { budget: number; mask: boolean } {
    const { tinit, tfinal, deltaT } = this.config;
    const total = this.config.totalStep!;
    if (step <= tinit) return { budget: this.initBudget, mask: false };
    if (step > total - tfinal) return { budget: this.targetBudget, mask: true };
    const coeff = 1 - (step - tinit) / (total - tfinal - tinit);
    const budget = Math.trunc((this.initBudget - this.targetBudget) * coeff ** 3 + this.targetBudget);
    return { budget, mask: step % deltaT === 0 };
  }

  /** The total rank budget the schedule gives at `step`. */
  budgetAt(step: number): number {
    return this.schedule(step).budget;
  }

  /** Every allocation so far: its step, the budget and each module's rank (copies). */
  rankHistory(): AdaLoraRankRecord[] {
    return this.history.map((r) => ({ ...r, ranks: { ...r.ranks } }));
  }

  record(entry: AdaLoraRankRecord): void {
    this.history.push(entry);
  }
}

/** Smoothed sensitivity (Ī) and uncertainty (Ū) of one variable's entries. */
interface Importance {
  avg: tf.Variable;
  unc: tf.Variable;
}

function normalInit(shape: [number, number], rng: Rng): tf.Variable {
  const data = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal(0, 0.02);
  return tf.tidy(() => tf.variable(tf.tensor2d(data, shape), true));
}

export class AdaLoraModule implements ModuleAdapter {
  readonly a: tf.Variable; // [r, in]   Q
  readonly e: tf.Variable; // [r, 1]    Λ
  readonly b: tf.Variable; // [out, r]  P
  readonly scaling: number;
  /** Kept triplets (the module's rank pattern); masked ones have E_i = 0 after each allocation. */
  keep: boolean[];
  private readonly importance: Record<'a' | 'e' | 'b', Importance>;
  private isMerged = false;

  constructor(
    readonly info: ModuleInfo,
    readonly config: AdaLoraConfig,
    private readonly rng: Rng,
  ) {
    const r = config.initR;
    // PEFT's reset_lora_parameters: E = 0, then A, then B ~ N(0, 0.02²).
    this.e = tf.tidy(() => tf.variable(tf.zeros([r, 1]), true));
    this.a = normalInit([r, info.inFeatures], rng);
    this.b = normalInit([info.outFeatures, r], rng);
    this.scaling = config.alpha / (r + 1e-5);
    const pattern = config.rankPattern?.[info.path];
    if (pattern && (pattern.length !== r || pattern.some((k) => typeof k !== 'boolean'))) {
      throw new Error(`AdaLoRA: rank_pattern of ${info.path} must list init_r = ${r} booleans (got ${JSON.stringify(pattern)})`);
    }
    this.keep = pattern ? [...pattern] : new Array<boolean>(r).fill(true);
    const zeros = (v: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(v), false));
    this.importance = {
      a: { avg: zeros(this.a), unc: zeros(this.a) },
      e: { avg: zeros(this.e), unc: zeros(this.e) },
      b: { avg: zeros(this.b), unc: zeros(this.b) },
    };
  }

  get rank(): number {
    return this.keep.filter(Boolean).length;
  }

  forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    if (this.isMerged) return baseOut;
    return tf.tidy(() => {
      const rate = this.config.dropout;
      const xd = ctx.training && rate > 0 ? tf.dropout(x, rate, undefined, this.rng.nextUint32()) : x;
      const down = tf.mul(tf.matMul(xd, tf.mul(this.a, this.e), false, true), constant(this.scaling));
      return tf.add(baseOut, tf.matMul(down, this.b, false, true));
    });
  }

  trainableVariables(): Array<[string, tf.Variable]> {
    return [
      ['lora_A', this.a],
      ['lora_E', this.e],
      ['lora_B', this.b],
    ];
  }

  /** At init_r: masking zeroes E entries, it does not remove parameters during training. */
  parameterCount(): number {
    return this.a.size + this.e.size + this.b.size;
  }

  /** PEFT's update_ipt: I = |w · g|, Ī ← β1 Ī + (1−β1) I, Ū ← β2 Ū + (1−β2) |I − Ī|. */
  updateImportance(grads: Partial<Record<'a' | 'e' | 'b', tf.Tensor>>, beta1: number, beta2: number): void {
    tf.tidy(() => {
      for (const k of ['a', 'e', 'b'] as const) {
        const w = this[k];
        const g = grads[k];
        const ipt = g ? tf.abs(tf.mul(w, g)) : tf.zerosLike(w);
        const { avg, unc } = this.importance[k];
        const newAvg = tf.add(tf.mul(avg, constant(beta1)), tf.mul(ipt, constant(1 - beta1)));
        const newUnc = tf.add(tf.mul(unc, constant(beta2)), tf.mul(tf.abs(tf.sub(ipt, newAvg)), constant(1 - beta2)));
        avg.assign(newAvg);
        unc.assign(newUnc);
      }
    });
  }

  resetImportance(): void {
    tf.tidy(() => {
      for (const { avg, unc } of Object.values(this.importance)) {
        avg.assign(tf.zerosLike(avg));
        unc.assign(tf.zerosLike(unc));
      }
    });
  }

  /**
   * Triplet scores `s(E_i) + mean_j s(A_ij) + mean_j s(B_ji)`, s = Ī · Ū, read to the host with
   * `await data()`. The scores tensor is kept, so this may start inside a tidy (the training step).
   */
  async tripletScores(): Promise<Float32Array> {
    const scores = tf.keep(
      tf.tidy(() => {
        const s = (k: 'a' | 'e' | 'b') => tf.mul(this.importance[k].avg, this.importance[k].unc);
        const ab = tf.add(tf.mean(s('a'), 1), tf.mean(s('b'), 0));
        return tf.add(tf.reshape(s('e'), [-1]), ab);
      }),
    );
    try {
      return (await scores.data()) as Float32Array;
    } finally {
      scores.dispose();
    }
  }

  /** Sets the rank pattern and zeroes the E entries of masked triplets (masked_fill_, so +0). */
  applyMask(keep: boolean[] = this.keep): void {
    this.keep = [...keep];
    tf.tidy(() => {
      const mask = tf.tensor2d(
        this.keep.map((k) => (k ? 1 : 0)),
        [this.keep.length, 1],
        'bool',
      );
      this.e.assign(tf.where(mask, this.e, tf.zerosLike(this.e)));
    });
  }

  /** `s · (B (A ⊙ E))ᵀ` in the base weight's Conv1D layout `[in, out]`. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(tf.mul(this.a, this.e), this.b, true, true), constant(this.scaling)) as tf.Tensor2D);
  }

  merge(): void {
    this.isMerged = foldDelta(this, this.isMerged, true);
  }

  unmerge(): void {
    this.isMerged = foldDelta(this, this.isMerged, false);
  }

  /** Tensors cut to the kept triplets, as PEFT's resize_state_dict_by_rank_pattern saves them. */
  async exportTensors(): Promise<Record<string, AdapterTensor>> {
    const idx = this.keep.flatMap((k, i) => (k ? [i] : []));
    const r = this.config.initR;
    const { inFeatures: nIn, outFeatures: nOut } = this.info;
    const a = (await this.a.data()) as Float32Array;
    const e = (await this.e.data()) as Float32Array;
    const b = (await this.b.data()) as Float32Array;
    const rl = idx.length;
    const aCut = new Float32Array(rl * nIn);
    const bCut = new Float32Array(nOut * rl);
    idx.forEach((i, j) => aCut.set(a.subarray(i * nIn, (i + 1) * nIn), j * nIn));
    for (let o = 0; o < nOut; o++) idx.forEach((i, j) => (bCut[o * rl + j] = b[o * r + i]));
    return {
      lora_A: { shape: [rl, nIn], data: aCut },
      lora_E: { shape: [rl, 1], data: Float32Array.from(idx, (i) => e[i]) },
      lora_B: { shape: [nOut, rl], data: bCut },
    };
  }

  /** Reads tensors cut to this module's rank pattern; masked triplets come back as zeros. */
  importTensors(tensors: Record<string, AdapterTensor>): void {
    const idx = this.keep.flatMap((k, i) => (k ? [i] : []));
    const r = this.config.initR;
    const rl = idx.length;
    const { inFeatures: nIn, outFeatures: nOut } = this.info;
    const get = (key: string, shape: number[]): Float32Array => {
      const t = tensors[key];
      if (!t) throw new Error(`AdaLoRA import: missing '${key}' for module ${this.info.path}`);
      if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
        throw new Error(
          `AdaLoRA import: '${key}' of ${this.info.path} has shape [${t.shape}], expected [${shape}] (init_r ${r}, ${rl} kept by rank_pattern)`,
        );
      }
      return t.data;
    };
    const aCut = get('lora_A', [rl, nIn]);
    const eCut = get('lora_E', [rl, 1]);
    const bCut = get('lora_B', [nOut, rl]);
    const extra = Object.keys(tensors).filter((k) => !['lora_A', 'lora_E', 'lora_B'].includes(k));
    if (extra.length > 0) throw new Error(`AdaLoRA import: unexpected tensors for ${this.info.path}: ${extra.join(', ')}`);
    const a = new Float32Array(r * nIn);
    const e = new Float32Array(r);
    const b = new Float32Array(nOut * r);
    idx.forEach((i, j) => {
      a.set(aCut.subarray(j * nIn, (j + 1) * nIn), i * nIn);
      e[i] = eCut[j];
      for (let o = 0; o < nOut; o++) b[o * r + i] = bCut[o * rl + j];
    });
    tf.tidy(() => {
      this.a.assign(tf.tensor2d(a, [r, nIn]));
      this.e.assign(tf.tensor2d(e, [r, 1]));
      this.b.assign(tf.tensor2d(b, [nOut, r]));
    });
  }

  dispose(): void {
    for (const v of [this.a, this.e, this.b]) v.dispose();
    for (const { avg, unc } of Object.values(this.importance)) {
      avg.dispose();
      unc.dispose();
    }
  }
}

/** PEFT's mask_to_budget: zero the E entries whose triplet score is at or below the k-th smallest. */
async function maskToBudget(modules: AdaLoraModule[], allocator: AdaLoraAllocator, step: number, budget: number): Promise<void> {
  const scores = await Promise.all(modules.map((m) => m.tripletScores()));
  const k = allocator.initBudget - budget;
  let threshold = -Infinity;
  if (k > 0) {
    const all = Float32Array.from(scores.flatMap((s) => Array.from(s))).sort();
    threshold = all[Math.min(k, all.length) - 1];
  }
  const ranks: Record<string, number> = {};
  modules.forEach((m, i) => {
    m.applyMask(Array.from(scores[i], (s) => !(s <= threshold)));
    ranks[m.info.path] = m.rank;
  });
  allocator.record({ step, budget, ranks });
}

/** Where a rank_pattern key points: `[base_model.model.]<path>.lora_E[.<adapter>]` → `<path>`. */
function patternPath(key: string): string {
  const stripped = key.startsWith('base_model.model.') ? key.slice('base_model.model.'.length) : key;
  const at = stripped.lastIndexOf('.lora_E');
  if (at < 0) throw new Error(`adapter_config.json: rank_pattern key '${key}' does not name a lora_E (expected '<module path>.lora_E')`);
  return stripped.slice(0, at);
}

function numField(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new Error(`adapter_config.json: AdaLoRA needs '${key}'`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`adapter_config.json: '${key}' must be a number (got ${JSON.stringify(v)})`);
  return v;
}

export const adaloraVariant: VariantDefinition<AdaLoraConfig, AdaLoraAllocator> = {
  name: 'adalora',
  defaults: ADALORA_DEFAULTS,
  validate(c) {
    const isInt = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
    if (!isInt(c.initR, 1)) throw new Error(`AdaLoRA config: initR must be a positive integer (got ${c.initR})`);
    if (!isInt(c.targetR, 0) || c.targetR > c.initR)
      throw new Error(`AdaLoRA config: targetR must be an integer in [0, initR = ${c.initR}] (got ${c.targetR})`);
    if (!(c.alpha > 0)) throw new Error(`AdaLoRA config: alpha must be positive (got ${c.alpha})`);
    if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`AdaLoRA config: dropout must be in [0, 1) (got ${c.dropout})`);
    for (const k of ['tinit', 'tfinal'] as const)
      if (!isInt(c[k], 0)) throw new Error(`AdaLoRA config: ${k} must be a non-negative integer (got ${c[k]})`);
    if (!isInt(c.deltaT, 1)) throw new Error(`AdaLoRA config: deltaT must be a positive integer (got ${c.deltaT})`);
    for (const k of ['beta1', 'beta2'] as const)
      if (!(c[k] > 0 && c[k] < 1)) throw new Error(`AdaLoRA config: ${k} must be in (0, 1) (got ${c[k]})`);
    if (!(c.orthRegWeight >= 0)) throw new Error(`AdaLoRA config: orthRegWeight must be >= 0 (got ${c.orthRegWeight})`);
    if (c.totalStep === undefined || c.totalStep === null)
      throw new Error('AdaLoRA config: totalStep is required (the run’s total optimizer steps: the rank budget schedule ends there)');
    if (!isInt(c.totalStep, 1)) throw new Error(`AdaLoRA config: totalStep must be a positive integer (got ${c.totalStep})`);
    if (c.tinit >= c.totalStep - c.tfinal) {
      throw new Error(
        `AdaLoRA config: tinit (${c.tinit}) must be below totalStep - tfinal (${c.totalStep} - ${c.tfinal}): ` +
          'no budgeting phase is left; lower tinit/tfinal or raise totalStep',
      );
    }
  },
  prepare(modules, config) {
    const paths = new Set(modules.map((m) => m.path));
    const unknown = Object.keys(config.rankPattern ?? {}).filter((p) => !paths.has(p));
    if (unknown.length > 0)
      throw new Error(`AdaLoRA: rank_pattern names modules that are not adapted: ${unknown.join(', ')} (target_modules differ?)`);
    return new AdaLoraAllocator(config, modules.length);
  },
  create: (module, config, rng) => new AdaLoraModule(module, config, rng),
  regularizer(ctx) {
    const gamma = ctx.config.orthRegWeight;
    if (!(gamma > 0) || ctx.modules.length === 0) return undefined;
    // PEFT: mean over every lora_A and lora_B of ||A Aᵀ − I||_F and ||Bᵀ B − I||_F.
    const fro = (cov: tf.Tensor2D) => tf.sqrt(tf.sum(tf.square(tf.sub(cov, tf.eye(cov.shape[0])))));
    const terms = (ctx.modules as AdaLoraModule[]).flatMap((m) => [
      fro(tf.matMul(m.a, m.a, false, true) as tf.Tensor2D),
      fro(tf.matMul(m.b, m.b, true, false) as tf.Tensor2D),
    ]);
    // A chain of adds, not addN: the engine registers no AddN gradient.
    return tf.mul(
      terms.reduce((acc, t) => tf.add(acc, t)),
      constant(gamma / terms.length),
    ) as tf.Scalar;
  },
  // PEFT's update_and_allocate(global_step), called after optimizer.step() with the step's gradients.
  // A budget step's scores are computed here and read after the step's tidy (the returned promise).
  afterStep(ctx, { step, grads }: StepContext): Promise<void> | void {
    const c = ctx.config;
    const allocator = ctx.shared;
    const modules = ctx.modules as AdaLoraModule[];
    const finalStart = c.totalStep! - c.tfinal;
    if (step < finalStart) {
      for (const m of modules) {
        const g = (k: string) => grads[`${m.info.path}.${k}`];
        m.updateImportance({ a: g('lora_A'), e: g('lora_E'), b: g('lora_B') }, c.beta1, c.beta2);
      }
      const { budget, mask } = allocator.schedule(step);
      if (mask) return maskToBudget(modules, allocator, step, budget);
    } else if (step === finalStart) {
      // The scores are computed (synchronously) before the reset; only their read is deferred.
      const masked = maskToBudget(modules, allocator, step, allocator.schedule(step).budget);
      for (const m of modules) m.resetImportance();
      return masked;
    } else {
      // Final phase: the pattern fixed at totalStep - tfinal, re-applied after every step.
      for (const m of modules) m.applyMask();
    }
  },
  peftConfig(config, ctx) {
    const modules = ctx.modules as AdaLoraModule[] | undefined;
    const rankPattern = modules
      ? Object.fromEntries(modules.map((m) => [`${m.info.path}.lora_E`, [...m.keep]]))
      : Object.fromEntries(Object.entries(config.rankPattern ?? {}).map(([p, k]) => [`${p}.lora_E`, k]));
    return {
      peft_type: 'ADALORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: ctx.baseModelNameOrPath,
      // LoraConfig's r, unused by AdaLoRA (PEFT warns when it is not its default 8).
      r: 8,
      init_r: config.initR,
      target_r: config.targetR,
      tinit: config.tinit,
      tfinal: config.tfinal,
      deltaT: config.deltaT,
      beta1: config.beta1,
      beta2: config.beta2,
      orth_reg_weight: config.orthRegWeight,
      total_step: config.totalStep ?? null,
      // Keys as PEFT writes them: the module path inside the transformers model, adapter name stripped.
      rank_pattern: rankPattern,
      lora_alpha: config.alpha,
      lora_dropout: config.dropout,
      target_modules: ctx.targetModules,
      fan_in_fan_out: true,
      use_rslora: false,
      use_dora: false,
      bias: 'none',
      alpha_pattern: {},
      init_lora_weights: true,
      inference_mode: true,
      modules_to_save: null,
      layers_to_transform: null,
      layers_pattern: null,
      revision: null,
    };
  },
  matchesPeft: (cfg) => cfg.peft_type === 'ADALORA',
  configFromPeft(cfg) {
    if (cfg.bias !== undefined && cfg.bias !== 'none')
      throw new Error(`adapter_config.json: bias '${String(cfg.bias)}' is not supported (only "none")`);
    const raw = cfg.rank_pattern;
    let rankPattern: Record<string, boolean[]> | undefined;
    if (raw !== undefined && raw !== null) {
      if (typeof raw !== 'object' || Array.isArray(raw))
        throw new Error(`adapter_config.json: rank_pattern must map '<module>.lora_E' to booleans (got ${JSON.stringify(raw)})`);
      rankPattern = Object.fromEntries(Object.entries(raw as Record<string, boolean[]>).map(([k, v]) => [patternPath(k), v]));
    }
    const d = ADALORA_DEFAULTS;
    return {
      initR: numField(cfg, 'init_r', d.initR),
      targetR: numField(cfg, 'target_r', d.targetR),
      alpha: numField(cfg, 'lora_alpha', d.alpha),
      dropout: numField(cfg, 'lora_dropout', d.dropout),
      tinit: numField(cfg, 'tinit', d.tinit),
      tfinal: numField(cfg, 'tfinal', d.tfinal),
      deltaT: numField(cfg, 'deltaT', d.deltaT),
      beta1: numField(cfg, 'beta1', d.beta1),
      beta2: numField(cfg, 'beta2', d.beta2),
      orthRegWeight: numField(cfg, 'orth_reg_weight', d.orthRegWeight),
      totalStep: numField(cfg, 'total_step'),
      rankPattern,
    };
  },
};

/** The rank allocator of an AdaLoRA adapter set: `rankHistory()` and `budgetAt(step)` for the run's records. */
export function adaloraAllocator(set: { variant: { name: string }; shared: unknown }): AdaLoraAllocator {
  if (set.variant.name !== 'adalora' || !(set.shared instanceof AdaLoraAllocator))
    throw new Error(`adaloraAllocator: the adapter set is '${set.variant.name}', not AdaLoRA`);
  return set.shared;
}

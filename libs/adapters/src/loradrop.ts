// LoRA-drop (Zhou et al. 2024; not in PEFT): rank modules by the output of a probe LoRA,
// g_i = Σ_x ||B_i A_i x_i||², keep the most important ones, and let every other module of the same
// shape share one trained LoRA pair. Exports as plain LoRA (the shared pair copied into each module).
import * as tf from '@tensorflow/tfjs-core';
import { batchShape } from '@lora/engine';
import type { Batch, ForwardContext, ForwardOptions, ModelAdapters, ModuleHook, Rng } from '@lora/engine';
import type { ModuleAdapter, ModuleInfo, VariantDefinition } from './adapter';
import { initLoraPair, LORA_DEFAULTS, LoraConfig, LoraModule, LoraPair, loraVariant } from './lora';

export interface ModuleImportance {
  module: string;
  /** g_i = Σ over the sample's tokens of ||B_i A_i x_i||² (no LoRA scaling: it cancels in the ratio). */
  score: number;
  /** g_i / Σ_j g_j. */
  normalized: number;
}

/** Anything that runs forward with adapters (Gpt2Model does). */
export interface ForwardModel {
  forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor;
}

/** A module exposing a LoRA pair (LoRA and variants built on LoraModule). */
interface HasLoraPair {
  a: tf.Variable;
  b: tf.Variable;
}

function hasPair(m: ModuleAdapter): m is ModuleAdapter & HasLoraPair {
  const any = m as unknown as Partial<HasLoraPair>;
  return any.a instanceof tf.Variable && any.b instanceof tf.Variable;
}

/**
 * Importance of every module of a probe LoRA set over `batches` (rows of `seqLen`, default the
 * batch length): each module's input is captured through its hook during an eval-mode forward.
 */
export async function computeImportance(
  model: ForwardModel,
  adapters: { modules(): ModuleAdapter[]; module(path: string): ModuleAdapter | undefined },
  batches: readonly Batch[],
  options: { seqLen?: number } = {},
): Promise<ModuleImportance[]> {
  if (batches.length === 0) throw new Error('LoRA-drop importance: no batches in the probe sample');
  const modules = adapters.modules();
  for (const m of modules) {
    if (!hasPair(m)) throw new Error(`LoRA-drop importance: module ${m.info.path} has no LoRA pair (probe with plain LoRA)`);
  }
  const sums = new Map<string, tf.Scalar>();
  const probe: ModelAdapters = {
    module(path: string): ModuleHook | undefined {
      const m = adapters.module(path);
      if (!m || !hasPair(m)) return m;
      return {
        forward(x: tf.Tensor2D, baseOut: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
          const g = tf.sum(tf.square(tf.matMul(tf.matMul(x, m.a, false, true), m.b, false, true)));
          const prev = sums.get(path);
          sums.set(path, tf.keep(prev ? tf.add(prev, g) : g) as tf.Scalar);
          prev?.dispose();
          return m.forward(x, baseOut, ctx);
        },
      };
    },
  };
  try {
    for (const batch of batches) {
      const shape = batchShape(batch, options.seqLen ?? batch.inputs.length, 'LoRA-drop importance');
      tf.tidy(() => {
        model.forward(tf.tensor2d(batch.inputs, shape, 'int32'), { adapters: probe, training: false });
      });
    }
    const scores: number[] = [];
    for (const m of modules) scores.push(sums.has(m.info.path) ? (await sums.get(m.info.path)!.data())[0] : 0);
    const total = scores.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new Error('LoRA-drop importance: every module scored 0 (was the probe trained? B starts at 0)');
    return modules.map((m, i) => ({ module: m.info.path, score: scores[i], normalized: scores[i] / total }));
  } finally {
    for (const s of sums.values()) s.dispose();
  }
}

export interface SelectOptions {
  /** Keep the smallest prefix (by descending importance) whose cumulative share reaches this; default 0.9. */
  threshold?: number;
  /** Keep exactly the n most important modules instead. */
  topN?: number;
}

/** Module paths to give their own LoRA, most important first. */
export function selectImportantModules(importance: readonly ModuleImportance[], options: SelectOptions = {}): string[] {
  const sorted = [...importance].sort((a, b) => b.normalized - a.normalized);
  if (options.topN !== undefined) {
    if (!Number.isInteger(options.topN) || options.topN < 0)
      throw new Error(`LoRA-drop selection: topN must be a non-negative integer (got ${options.topN})`);
    return sorted.slice(0, options.topN).map((i) => i.module);
  }
  const threshold = options.threshold ?? 0.9;
  if (!(threshold > 0 && threshold <= 1)) throw new Error(`LoRA-drop selection: threshold must be in (0, 1] (got ${threshold})`);
  const kept: string[] = [];
  let cumulative = 0;
  for (const i of sorted) {
    kept.push(i.module);
    cumulative += i.normalized;
    // A hair of slack: normalised shares summing to exactly T may round just below it.
    if (cumulative >= threshold - 1e-12) break;
  }
  return kept;
}

export interface LoraDropConfig extends LoraConfig {
  /** Module paths (e.g. `transformer.h.3.mlp.c_fc`) that get their own LoRA pair. */
  selected: string[];
}

export const LORA_DROP_DEFAULTS: LoraDropConfig = { ...LORA_DEFAULTS, selected: [] };

/** One shared pair per `(in, out)` shape of the non-selected modules, keyed `<in>x<out>`. */
export type LoraDropShared = Map<string, LoraPair>;

const shapeKey = (m: ModuleInfo) => `${m.inFeatures}x${m.outFeatures}`;

/** A non-selected module: the shared pair's math, but the set (not the module) owns and lists the pair. */
export class SharedPairLoraModule extends LoraModule {
  override trainableVariables(): Array<[string, tf.Variable]> {
    return [];
  }

  override parameterCount(): number {
    return 0;
  }

  override dispose(): void {
    // The set owns the shared pair (disposeShared).
  }
}

export const loraDropVariant: VariantDefinition<LoraDropConfig, LoraDropShared> = {
  name: 'loradrop',
  defaults: LORA_DROP_DEFAULTS,
  validate(config) {
    loraVariant.validate?.(config);
    if (!Array.isArray(config.selected) || !config.selected.every((s) => typeof s === 'string'))
      throw new Error(`LoRA-drop config: selected must be a list of module paths (got ${JSON.stringify(config.selected)})`);
  },
  prepare(modules, config, rng: Rng) {
    const paths = new Set(modules.map((m) => m.path));
    const stray = config.selected.find((s) => !paths.has(s));
    if (stray) throw new Error(`LoRA-drop config: selected module '${stray}' is not among the target modules (${[...paths].join(', ')})`);
    const shared: LoraDropShared = new Map();
    for (const m of modules) {
      if (config.selected.includes(m.path) || shared.has(shapeKey(m))) continue;
      shared.set(shapeKey(m), initLoraPair(m.inFeatures, m.outFeatures, config.r, rng));
    }
    return shared;
  },
  create(module, config, rng, shared): ModuleAdapter {
    if (config.selected.includes(module.path)) return new LoraModule(module, config, rng);
    return new SharedPairLoraModule(module, config, rng, shared.get(shapeKey(module))!);
  },
  sharedTrainableVariables: (shared) =>
    [...shared].flatMap(([key, p]): Array<[string, tf.Variable]> => [
      [`loradrop.shared.${key}.lora_A.weight`, p.a],
      [`loradrop.shared.${key}.lora_B.weight`, p.b],
    ]),
  disposeShared(shared) {
    for (const p of shared.values()) for (const v of [p.a, p.b]) if (!v.isDisposed) v.dispose();
    shared.clear();
  },
  // Every module exports its (own or shared) pair under its own keys: a plain PEFT LoRA folder.
  peftConfig: (config, ctx) => loraVariant.peftConfig(config, ctx),
  matchesPeft: () => false,
  configFromPeft() {
    throw new Error('LoRA-drop folders are plain LoRA: load them with the lora variant');
  },
};

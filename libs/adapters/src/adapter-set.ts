// The adapters attached to one model: target-module matching (PEFT's suffix rule), the
// engine's TrainableAdapters hooks, and PEFT folder export/import in memory.
import type * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, Rng, serializeSafetensors, toFloat32 } from '@lora/engine';
import type { HostTensor, ParamGroup, ProjectionModule, SafetensorsTensor, StepContext, TrainableAdapters } from '@lora/engine';
import type { AdapterTensor, ModuleAdapter, VariantContext, VariantDefinition } from './adapter';
import { adaloraVariant } from './adalora';
import { doraVariant } from './dora';
import { loraVariant } from './lora';
import { veraVariant } from './vera';

/** Anything that exposes adapter-able projections (Gpt2Model does). */
export interface AdaptableModel {
  projectionModules(): ProjectionModule[];
}

export interface AttachOptions<C extends object> {
  variant?: VariantDefinition<C>;
  config?: Partial<C>;
  /**
   * PEFT's rule: a list of names matches a module whose path equals or ends with `.<name>`;
   * a single string is a regular expression the whole module path must match.
   */
  targetModules: string[] | string;
  /** Seed of the init stream (A matrices, dropout masks). */
  seed?: number;
  baseModelNameOrPath?: string | null;
}

/** A model whose weights can be read back (Gpt2Model), for `mergedWeights`. */
export interface WeightExporter {
  exportWeights(): Promise<Map<string, HostTensor>>;
}

export interface PeftExport {
  adapterConfig: Record<string, unknown>;
  safetensors: Uint8Array;
}

const PEFT_PREFIX = 'base_model.model.';

/** Variants `fromPeft` can read, tried in order. */
export const PEFT_VARIANTS: VariantDefinition<object>[] = [
  loraVariant as unknown as VariantDefinition<object>,
  doraVariant as unknown as VariantDefinition<object>,
  veraVariant as unknown as VariantDefinition<object>,
  adaloraVariant as unknown as VariantDefinition<object>,
];

/** PEFT's rule: `key == target or key.endswith('.' + target)`. */
export function matchesTarget(path: string, target: string): boolean {
  return path === target || path.endsWith(`.${target}`);
}

export function selectModules(model: AdaptableModel, targetModules: string[] | string): ProjectionModule[] {
  const all = model.projectionModules();
  if (typeof targetModules === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${targetModules})$`);
    } catch (err) {
      throw new Error(`AdapterSet: target_modules regex '${targetModules}' is invalid: ${(err as Error).message}`);
    }
    const hits = all.filter((m) => re.test(m.path));
    if (hits.length === 0)
      throw new Error(`AdapterSet: target_modules regex '${targetModules}' matches no module path (e.g. ${all[0]?.path})`);
    return hits;
  }
  if (!Array.isArray(targetModules) || targetModules.length === 0) {
    throw new Error('AdapterSet: targetModules is empty; name at least one module (c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj)');
  }
  for (const t of targetModules) {
    if (!all.some((m) => matchesTarget(m.path, t))) {
      const names = [...new Set(all.map((m) => m.path.split('.').slice(-2).join('.')))].join(', ');
      throw new Error(`AdapterSet: target module '${t}' matches no module of the model; adaptable modules: ${names}`);
    }
  }
  return all.filter((m) => targetModules.some((t) => matchesTarget(m.path, t)));
}

export class AdapterSet<C extends object = object> implements TrainableAdapters {
  private readonly byPath = new Map<string, ModuleAdapter>();
  private isMerged = false;

  private constructor(
    readonly variant: VariantDefinition<C>,
    readonly config: C,
    readonly targetModules: string[] | string,
    readonly baseModelNameOrPath: string | null,
    modules: ModuleAdapter[],
    /** The variant's set-level state (`prepare`'s result); undefined for most variants. */
    readonly shared: unknown,
  ) {
    for (const m of modules) this.byPath.set(m.info.path, m);
  }

  /** Creates fresh adapters (variant default: LoRA) on every module matching `targetModules`. */
  static attach<C extends object = object>(model: AdaptableModel, options: AttachOptions<C>): AdapterSet<C> {
    const variant = (options.variant ?? loraVariant) as unknown as VariantDefinition<C>;
    const config = { ...variant.defaults, ...(options.config ?? {}) } as C;
    variant.validate?.(config);
    const rng = new Rng(options.seed ?? 0);
    const infos = selectModules(model, options.targetModules);
    const modules: ModuleAdapter[] = [];
    let shared: unknown;
    try {
      shared = variant.prepare?.(infos, config, rng);
      for (const info of infos) modules.push(variant.create(info, config, rng, shared));
    } catch (err) {
      for (const m of modules) m.dispose();
      if (shared !== undefined) variant.disposeShared?.(shared);
      throw err;
    }
    const targets = typeof options.targetModules === 'string' ? options.targetModules : [...options.targetModules];
    return new AdapterSet(variant, config, targets, options.baseModelNameOrPath ?? null, modules, shared);
  }

  /** Rebuilds adapters from a PEFT folder's adapter_config.json and adapter_model.safetensors bytes. */
  static fromPeft(model: AdaptableModel, adapterConfig: Record<string, unknown>, safetensorsBytes: Uint8Array): AdapterSet {
    const variant = PEFT_VARIANTS.find((v) => v.matchesPeft(adapterConfig));
    if (!variant) {
      throw new Error(
        `fromPeft: unsupported adapter (peft_type ${JSON.stringify(adapterConfig.peft_type)}, use_dora ${JSON.stringify(adapterConfig.use_dora)}); ` +
          `supported: ${PEFT_VARIANTS.map((v) => v.name).join(', ')}`,
      );
    }
    const targetModules = adapterConfig.target_modules as string[] | string;
    if (typeof targetModules !== 'string' && !(Array.isArray(targetModules) && targetModules.every((t) => typeof t === 'string'))) {
      throw new Error(`fromPeft: target_modules must be a list of module names or a regex string (got ${JSON.stringify(targetModules)})`);
    }
    const set = AdapterSet.attach(model, {
      variant,
      config: variant.configFromPeft(adapterConfig),
      targetModules,
      baseModelNameOrPath: (adapterConfig.base_model_name_or_path as string | null) ?? null,
    });
    try {
      const { tensors } = parseSafetensors(safetensorsBytes);
      const byModule = new Map<string, Record<string, AdapterTensor>>();
      // Keys of no module are set-level (VeRA's `base_model.vera_A`): the variant's importShared reads them.
      const sharedTensors: Record<string, AdapterTensor> = {};
      for (const [key, t] of tensors) {
        const m = [...set.byPath.keys()].find((p) => key.startsWith(`${PEFT_PREFIX}${p}.`));
        if (!m) {
          if (!set.variant.importShared)
            throw new Error(`fromPeft: tensor '${key}' belongs to no adapted module (target_modules ${JSON.stringify(targetModules)})`);
          sharedTensors[key] = { shape: t.shape, data: toFloat32(t) };
          continue;
        }
        const entry = byModule.get(m) ?? {};
        entry[key.slice(PEFT_PREFIX.length + m.length + 1)] = { shape: t.shape, data: toFloat32(t) };
        byModule.set(m, entry);
      }
      set.variant.importShared?.(set.shared, sharedTensors);
      for (const [path, module] of set.byPath) module.importTensors(byModule.get(path) ?? {});
    } catch (err) {
      set.dispose();
      throw err;
    }
    return set as AdapterSet;
  }

  module(path: string): ModuleAdapter | undefined {
    return this.byPath.get(path);
  }

  modules(): ModuleAdapter[] {
    return [...this.byPath.values()];
  }

  /** Variables named by their PEFT key without `base_model.model.` (e.g. `transformer.h.0.attn.c_attn.lora_A.weight`). */
  namedTrainableVariables(): Array<[string, tf.Variable]> {
    const own = this.modules().flatMap((m) => m.trainableVariables().map(([k, v]): [string, tf.Variable] => [`${m.info.path}.${k}`, v]));
    return [...own, ...this.sharedTrainableVariables()];
  }

  /** Set-level trainable variables (LoRA-drop's shared pairs), each listed once. */
  sharedTrainableVariables(): Array<[string, tf.Variable]> {
    return this.variant.sharedTrainableVariables?.(this.shared) ?? [];
  }

  trainableParameterCount(): number {
    const shared = this.sharedTrainableVariables().reduce((n, [, v]) => n + v.size, 0);
    return this.modules().reduce((n, m) => n + m.parameterCount(), shared);
  }

  get merged(): boolean {
    return this.isMerged;
  }

  /**
   * Folds every adapter into its base weight (W' = W + ΔW); forward then adds nothing. For
   * inference and "download merged"; unmerge before training again.
   */
  merge(): void {
    if (this.isMerged) return;
    const modules = this.modules();
    const cannot = modules.find((m) => !m.merge || !m.unmerge);
    if (cannot) throw new Error(`AdapterSet.merge: variant '${this.variant.name}' cannot merge (module ${cannot.info.path} has no merge)`);
    const done: ModuleAdapter[] = [];
    try {
      for (const m of modules) {
        m.merge!();
        done.push(m);
      }
    } catch (err) {
      for (const m of done.reverse()) m.unmerge!();
      throw err;
    }
    this.isMerged = true;
  }

  /** Takes every merged delta out of the base weights again. */
  unmerge(): void {
    if (!this.isMerged) return;
    for (const m of this.modules().reverse()) m.unmerge!();
    this.isMerged = false;
  }

  /**
   * The model's weights (its own names, e.g. `h.0.attn.c_attn.weight`) with the adapters merged
   * in; the set is left merged or unmerged as it was.
   */
  async mergedWeights(model: WeightExporter): Promise<Map<string, HostTensor>> {
    const wasMerged = this.isMerged;
    this.merge();
    try {
      // Copies: a backend may hand out its own buffer, and unmerge replaces the variables' values.
      const out = new Map<string, HostTensor>();
      for (const [name, t] of await model.exportWeights()) out.set(name, { shape: [...t.shape], data: Float32Array.from(t.data) });
      return out;
    } finally {
      if (!wasMerged) this.unmerge();
    }
  }

  paramGroups(): ParamGroup[] {
    if (this.variant.paramGroups) return this.variant.paramGroups(this.context());
    return [{ name: 'default', variables: this.namedTrainableVariables(), lrScale: 1 }];
  }

  regularizer(): tf.Scalar | undefined {
    return this.variant.regularizer?.(this.context());
  }

  transformGradients(grads: Record<string, tf.Tensor>, step: number): Record<string, tf.Tensor> {
    return this.variant.transformGradients ? this.variant.transformGradients(this.context(), grads, step) : grads;
  }

  beforeStep(step: number): void {
    this.variant.beforeStep?.(this.context(), step);
  }

  afterStep(step: StepContext): void | Promise<void> {
    return this.variant.afterStep?.(this.context(), step);
  }

  adapterConfig(): Record<string, unknown> {
    return this.variant.peftConfig(this.config, {
      targetModules: this.targetModules,
      baseModelNameOrPath: this.baseModelNameOrPath,
      modules: this.modules(),
    });
  }

  /** adapter_config.json and adapter_model.safetensors of a PEFT folder, in memory. */
  async exportPeft(): Promise<PeftExport> {
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const m of this.modules()) {
      for (const [suffix, t] of Object.entries(await m.exportTensors())) {
        tensors[`${PEFT_PREFIX}${m.info.path}.${suffix}`] = { dtype: 'F32', shape: t.shape, data: t.data };
      }
    }
    if (this.variant.exportShared) {
      for (const [key, t] of Object.entries(await this.variant.exportShared(this.shared))) {
        tensors[key] = { dtype: 'F32', shape: t.shape, data: t.data };
      }
    }
    return { adapterConfig: this.adapterConfig(), safetensors: serializeSafetensors(tensors, { format: 'pt' }) };
  }

  /** Disposes the adapters; base weights are left as they are (merged stays merged). */
  dispose(): void {
    for (const m of this.byPath.values()) m.dispose();
    this.byPath.clear();
    if (this.shared !== undefined) this.variant.disposeShared?.(this.shared);
  }

  private context(): VariantContext<C> {
    return { config: this.config, modules: this.modules(), shared: this.shared };
  }
}

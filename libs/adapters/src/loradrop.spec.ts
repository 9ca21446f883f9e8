import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseSafetensors, type ModelAdapters } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { LoraModule, loraVariant } from './lora';
import { computeImportance, LoraDropConfig, loraDropVariant, selectImportantModules, SharedPairLoraModule } from './loradrop';
import { tinyModel, tokens } from '../../engine/src/testing/tiny-model';
import { B, batcher, identical, inputs, logits, T, trainSteps, values, VOCAB } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

const TARGETS = ['c_attn', 'c_proj', 'c_fc'];
const SELECTED = ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_fc'];

function randomizeB(set: AdapterSet, seed: number): void {
  for (const m of set.modules() as LoraModule[]) m.b.assign(tf.randomNormal(m.b.shape, 0, 0.5, 'float32', seed++));
}

function sample(n: number, seed: number) {
  return Array.from({ length: n }, (_, i) => ({ inputs: tokens(B * T, VOCAB, seed + i), targets: tokens(B * T, VOCAB, seed + 50 + i) }));
}

function attachDrop(model: ReturnType<typeof tinyModel>, config: Partial<LoraDropConfig> = {}): AdapterSet<LoraDropConfig> {
  return AdapterSet.attach(model, {
    variant: loraDropVariant,
    targetModules: TARGETS,
    config: { r: 2, alpha: 4, selected: SELECTED, ...config },
    seed: 4,
  });
}

describe('LoRA-drop importance and selection', () => {
  it('scores g_i = Σ ||B_i A_i x_i||² over the sample from each module input, normalised to sum 1', async () => {
    const model = tinyModel(1);
    const probe = AdapterSet.attach(model, { targetModules: TARGETS, config: { r: 2 }, seed: 2 });
    randomizeB(probe, 5);
    const batches = sample(2, 7);
    await logits(model, inputs()[0]); // the model keeps its causal mask from the first forward
    const live = tf.memory().numTensors;
    const importance = await computeImportance(model, probe, batches, { seqLen: T });
    expect(tf.memory().numTensors).toBe(live);
    expect(importance.map((i) => i.module)).toEqual(probe.modules().map((m) => m.info.path));
    expect(importance.reduce((s, i) => s + i.normalized, 0)).toBeCloseTo(1, 12);

    // Independently: record every module's input, then B (A xᵀ) per token.
    const seen = new Map<string, tf.Tensor2D[]>();
    const recorder: ModelAdapters = {
      module: (p) => {
        const m = probe.module(p);
        if (!m) return undefined;
        return {
          forward: (x, baseOut, ctx) => {
            seen.set(p, [...(seen.get(p) ?? []), tf.keep(tf.clone(x))]);
            return m.forward(x, baseOut, ctx);
          },
        };
      },
    };
    for (const b of batches) tf.tidy(() => void model.forward(tf.tensor2d(b.inputs, [B, T], 'int32'), { adapters: recorder }));
    for (const { module, score } of importance) {
      const m = probe.module(module) as LoraModule;
      let want = 0;
      for (const x of seen.get(module)!) {
        const s = tf.tidy(() => tf.sum(tf.square(tf.matMul(m.b, tf.matMul(m.a, tf.transpose(x))))));
        want += (await s.data())[0];
        s.dispose();
      }
      expect(Math.abs(score - want)).toBeLessThan(1e-4 * want);
    }
    for (const xs of seen.values()) tf.dispose(xs);

    const fresh = AdapterSet.attach(model, { targetModules: TARGETS, config: { r: 2 } });
    await expect(computeImportance(model, fresh, batches, { seqLen: T })).rejects.toThrow(/every module scored 0/);
    probe.dispose();
    fresh.dispose();
    model.dispose();
  });

  it('selects the smallest prefix reaching the threshold, or the top n', () => {
    const imp = [
      { module: 'c', score: 3, normalized: 0.15 },
      { module: 'a', score: 10, normalized: 0.5 },
      { module: 'd', score: 1, normalized: 0.05 },
      { module: 'b', score: 6, normalized: 0.3 },
    ];
    expect(selectImportantModules(imp)).toEqual(['a', 'b', 'c']); // 0.5, 0.8, 0.95 >= 0.9
    expect(selectImportantModules(imp, { threshold: 0.8 })).toEqual(['a', 'b']); // reached exactly
    expect(selectImportantModules(imp, { threshold: 0.81 })).toEqual(['a', 'b', 'c']);
    expect(selectImportantModules(imp, { threshold: 0.5 })).toEqual(['a']);
    expect(selectImportantModules(imp, { threshold: 1 })).toEqual(['a', 'b', 'c', 'd']);
    expect(selectImportantModules(imp, { topN: 2 })).toEqual(['a', 'b']);
    expect(selectImportantModules(imp, { topN: 9 })).toEqual(['a', 'b', 'c', 'd']);
    expect(() => selectImportantModules(imp, { threshold: 1.5 })).toThrow(/threshold must be in \(0, 1\]/);
  });
});

describe('LoRA-drop full run', () => {
  it('gives selected modules their own pair and every other module of a shape ONE shared trainable pair', () => {
    const model = tinyModel(2);
    const set = attachDrop(model);
    const mod = (p: string) => set.module(`transformer.h.${p}`) as LoraModule;
    expect(mod('0.attn.c_attn')).not.toBeInstanceOf(SharedPairLoraModule);
    expect(mod('1.attn.c_attn')).toBeInstanceOf(SharedPairLoraModule);
    // Same shape, not selected: the very same variables.
    expect(mod('0.attn.c_proj').a).toBe(mod('1.attn.c_proj').a);
    expect(mod('0.attn.c_proj').b).toBe(mod('1.attn.c_proj').b);
    expect(mod('0.mlp.c_proj').a).toBe(mod('1.mlp.c_proj').a);
    expect(mod('0.attn.c_proj').a).not.toBe(mod('0.mlp.c_proj').a);
    // A selected module keeps its own pair even if a same-shape module shares one.
    expect(mod('0.attn.c_attn').a).not.toBe(mod('1.attn.c_attn').a);

    const named = set.namedTrainableVariables();
    expect(new Set(named.map(([, v]) => v)).size).toBe(named.length);
    expect(named.filter(([, v]) => v === mod('0.attn.c_proj').a)).toHaveLength(1);
    // Selected: c_attn 2·(8+24), c_fc 2·(8+32). Shared pairs, one per shape of the others:
    // 8x24 (h.1 c_attn), 8x32 (h.0 c_fc), 8x8 (attn.c_proj), 32x8 (mlp.c_proj).
    const own = 2 * 32 + 2 * 40;
    const shared = 2 * 32 + 2 * 40 + 2 * 16 + 2 * 40;
    expect(set.trainableParameterCount()).toBe(own + shared);
    expect(named).toHaveLength(2 * 2 + 4 * 2);
    expect(named.map(([n]) => n)).toContain('loradrop.shared.8x8.lora_A.weight');
    const plain = AdapterSet.attach(model, { targetModules: TARGETS, config: { r: 2 } });
    expect(set.trainableParameterCount()).toBeLessThan(plain.trainableParameterCount());

    expect(() => attachDrop(model, { selected: ['transformer.h.0.mlp.c_fc', 'transformer.h.9.mlp.c_fc'] })).toThrow(
      /selected module 'transformer.h.9.mlp.c_fc' is not among the target modules/,
    );
    set.dispose();
    plain.dispose();
    model.dispose();
  });

  it('trains the shared pair once for all its modules, without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const model = tinyModel(3);
    const set = attachDrop(model, { dropout: 0.1 });
    const shared = (set.module('transformer.h.0.attn.c_proj') as LoraModule).b;
    const { counts } = await trainSteps(model, set, 8);
    expect(counts[6]).toBe(counts[2]);
    expect(Math.max(...(await values(shared)).map(Math.abs))).toBeGreaterThan(0);
    expect((set.module('transformer.h.1.attn.c_proj') as LoraModule).b).toBe(shared);
    set.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('exports a plain LoRA folder (shared pair copied into each module) that loads back as LoRA with identical logits', async () => {
    const model = tinyModel(4);
    const set = attachDrop(model);
    await trainSteps(model, set, 3);
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({ peft_type: 'LORA', use_dora: false, r: 2, lora_alpha: 4, target_modules: TARGETS });
    expect(adapterConfig).not.toHaveProperty('selected');
    const parsed = parseSafetensors(safetensors);
    expect(parsed.tensors.size).toBe(8 * 2);
    for (const m of set.modules()) {
      for (const k of ['lora_A.weight', 'lora_B.weight']) expect(parsed.tensors.has(`base_model.model.${m.info.path}.${k}`)).toBe(true);
    }
    const key = (p: string) => `base_model.model.transformer.h.${p}.attn.c_proj.lora_B.weight`;
    expect(identical(parsed.tensors.get(key('0'))!.data as Float32Array, parsed.tensors.get(key('1'))!.data as Float32Array)).toBe(true);

    const imported = AdapterSet.fromPeft(model, JSON.parse(JSON.stringify(adapterConfig)), safetensors);
    expect(imported.variant).toBe(loraVariant);
    expect(imported.trainableParameterCount()).toBe(2 * (2 * 32 + 2 * 16 + 2 * 40 + 2 * 40));
    const [x] = inputs(9);
    const want = await logits(model, x, set);
    expect(identical(await logits(model, x, imported), want)).toBe(true);
    expect(identical(await logits(model, x), want)).toBe(false);
    set.dispose();
    imported.dispose();
    model.dispose();
  });

  it('runs end to end: probe, importance, selection, full run', async () => {
    const model = tinyModel(5);
    const probe = AdapterSet.attach(model, { targetModules: TARGETS, config: { r: 2, alpha: 4 }, seed: 1 });
    await trainSteps(model, probe, 5);
    const importance = await computeImportance(model, probe, [batcher().next()], { seqLen: T });
    probe.dispose();
    const selected = selectImportantModules(importance, { threshold: 0.5 });
    expect(selected.length).toBeGreaterThan(0);
    expect(selected.length).toBeLessThan(importance.length);
    const set = AdapterSet.attach(model, { variant: loraDropVariant, targetModules: TARGETS, config: { r: 2, alpha: 4, selected } });
    expect(
      set
        .modules()
        .filter((m) => !(m instanceof SharedPairLoraModule))
        .map((m) => m.info.path)
        .sort(),
    ).toEqual([...selected].sort());
    const { loss } = await trainSteps(model, set, 5);
    expect(Number.isFinite(loss)).toBe(true);
    set.dispose();
    model.dispose();
  });
});

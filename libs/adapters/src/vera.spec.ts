import * as tf from '@tensorflow/tfjs-core';
import { evaluate, initBackend, parseSafetensors, serializeSafetensors } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { VeraConfig, VeraModule, VeraShared, veraVariant } from './vera';
import { gradCheck } from '../../engine/src/testing/grad-check';
import { tinyModel } from '../../engine/src/testing/tiny-model';
import { batcher, identical, inputs, logits, maxDiff, onBackend, snapshotWeights, T, trainSteps, values } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

const TARGETS = ['c_attn', 'mlp.c_proj'];

function attach(model: ReturnType<typeof tinyModel>, config: Partial<VeraConfig> = {}, seed = 1): AdapterSet<VeraConfig> {
  return AdapterSet.attach(model, { variant: veraVariant, targetModules: TARGETS, config: { r: 4, ...config }, seed });
}

/** λ_b starts at 0 (so λ_d gets no gradient): give both vectors random values. */
function randomize(set: AdapterSet, seed: number): void {
  for (const m of set.modules() as VeraModule[]) {
    m.lambdaB.assign(tf.randomNormal(m.lambdaB.shape, 0, 0.5, 'float32', seed++));
    m.lambdaD.assign(tf.randomNormal(m.lambdaD.shape, 0, 0.5, 'float32', seed++));
  }
}

describe('VeRA', () => {
  it('draws ONE frozen Kaiming-uniform pair sized to the largest module, from projectionPrngKey only', async () => {
    const model = tinyModel();
    const set = attach(model, {}, 1);
    const shared = set.shared as VeraShared;
    // c_attn [8 -> 24], mlp.c_proj [32 -> 8]: max_in 32, max_out 24.
    expect(shared.a.shape).toEqual([4, 32]);
    expect(shared.b.shape).toEqual([24, 4]);
    expect(shared.a.trainable).toBe(false);
    expect(shared.b.trainable).toBe(false);
    for (const m of set.modules() as VeraModule[]) {
      expect(m.shared.a).toBe(shared.a);
      expect(m.shared.b).toBe(shared.b);
    }
    const a = await values(shared.a);
    const b = await values(shared.b);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 32));
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(Math.sqrt(6 / 32) / 2);
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 4));
    const otherSeed = attach(model, {}, 99);
    expect(identical(await values((otherSeed.shared as VeraShared).a), a)).toBe(true);
    const otherKey = attach(model, { projectionPrngKey: 5 }, 1);
    expect(identical(await values((otherKey.shared as VeraShared).a), a)).toBe(false);

    // Σ (r + out): 2 × c_attn (4 + 24) + 2 × mlp.c_proj (4 + 8); the projections are not trainable.
    expect(set.trainableParameterCount()).toBe(2 * (4 + 24) + 2 * (4 + 8));
    const named = set.namedTrainableVariables();
    expect(named.map(([n]) => n)).toContain('transformer.h.1.mlp.c_proj.vera_lambda_d');
    expect(named.some(([, v]) => v === shared.a || v === shared.b)).toBe(false);
    expect(await values((set.modules()[0] as VeraModule).lambdaD)).toEqual(Float32Array.from([0.1, 0.1, 0.1, 0.1]));
    for (const s of [set, otherSeed, otherKey]) s.dispose();
    model.dispose();
  });

  it('is the base model at step 0 (λ_b = 0): identical logits', async () => {
    const model = tinyModel(2);
    const set = attach(model);
    const [x] = inputs(4);
    expect(identical(await logits(model, x, set), await logits(model, x))).toBe(true);
    set.dispose();
    model.dispose();
  });

  it('has gradients w.r.t. λ_d and λ_b that match central finite differences', async () => {
    const model = tinyModel(3);
    const set = attach(model);
    randomize(set, 10);
    const [x, y] = inputs(5);
    const loss = () => model.loss(x, y, { adapters: set, training: true });
    for (const path of ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_proj']) {
      const m = set.module(path) as VeraModule;
      for (const v of [m.lambdaD, m.lambdaB]) {
        for (const r of await gradCheck(loss, v, 1e-2, 3)) expect(r.relError).toBeLessThan(1e-2);
      }
    }
    set.dispose();
    model.dispose();
  });

  it('trains λ only: base weights and the shared projections stay bit-identical, the loss drops, no tensors leak', async () => {
    const model = tinyModel(4);
    const set = attach(model, { r: 8, dropout: 0.1 });
    const shared = set.shared as VeraShared;
    const before = await snapshotWeights(model);
    const a = await values(shared.a);
    const b = await values(shared.b);
    const initial = await evaluate(model, [batcher().next()], set, { seqLen: T });
    const { counts, loss } = await trainSteps(model, set, 30, 5e-2);
    expect(counts[6]).toBe(counts[2]);
    expect(loss).toBeLessThan(initial - 0.1);
    for (const [name, data] of before) expect(identical(await values(model.weight(name)), data)).toBe(true);
    expect(identical(await values(shared.a), a)).toBe(true);
    expect(identical(await values(shared.b), b)).toBe(true);
    for (const m of set.modules() as VeraModule[]) expect(m.shared.a).toBe(shared.a);
    const live = tf.memory().numTensors;
    set.dispose();
    // 2 λ per module + the shared pair.
    expect(tf.memory().numTensors).toBe(live - 2 * 4 - 2);
    model.dispose();
  });

  it('exports PEFT keys (vera_A/vera_B once) and imports back to identical logits', async () => {
    const model = tinyModel(5);
    const set = AdapterSet.attach(model, {
      variant: veraVariant,
      targetModules: TARGETS,
      config: { r: 4, projectionPrngKey: 7, dInitial: 0.2 },
      baseModelNameOrPath: 'models/tiny',
    });
    randomize(set, 20);
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({
      peft_type: 'VERA',
      task_type: 'CAUSAL_LM',
      r: 4,
      target_modules: TARGETS,
      projection_prng_key: 7,
      save_projection: true,
      vera_dropout: 0,
      d_initial: 0.2,
      fan_in_fan_out: true,
      bias: 'none',
      base_model_name_or_path: 'models/tiny',
    });
    const parsed = parseSafetensors(safetensors);
    expect([...parsed.tensors.keys()].sort()).toEqual(
      [
        'base_model.vera_A',
        'base_model.vera_B',
        ...[
          'transformer.h.0.attn.c_attn',
          'transformer.h.0.mlp.c_proj',
          'transformer.h.1.attn.c_attn',
          'transformer.h.1.mlp.c_proj',
        ].flatMap((p) => [`base_model.model.${p}.vera_lambda_b`, `base_model.model.${p}.vera_lambda_d`]),
      ].sort(),
    );
    expect(parsed.tensors.get('base_model.vera_A')?.shape).toEqual([4, 32]);
    expect(parsed.tensors.get('base_model.vera_B')?.shape).toEqual([24, 4]);
    expect(parsed.tensors.get('base_model.model.transformer.h.0.attn.c_attn.vera_lambda_b')?.shape).toEqual([24]);
    expect(parsed.tensors.get('base_model.model.transformer.h.0.attn.c_attn.vera_lambda_d')?.shape).toEqual([4]);

    // The projections come from the file, not from the key: change the key and they still match.
    const imported = AdapterSet.fromPeft(model, { ...JSON.parse(JSON.stringify(adapterConfig)), projection_prng_key: 1 }, safetensors);
    expect(imported.variant.name).toBe('vera');
    expect(imported.trainableParameterCount()).toBe(set.trainableParameterCount());
    const [x] = inputs(9);
    const want = await logits(model, x, set);
    expect(identical(await logits(model, x, imported), want)).toBe(true);
    expect(identical(await logits(model, x), want)).toBe(false);

    const withoutProjection = new Map([...parsed.tensors].filter(([k]) => !k.startsWith('base_model.vera_')));
    expect(() => AdapterSet.fromPeft(model, adapterConfig, serializeSafetensors(Object.fromEntries(withoutProjection)))).toThrow(
      /base_model.vera_A' is missing.*save_projection/,
    );
    expect(() => AdapterSet.fromPeft(model, { ...adapterConfig, save_projection: false }, safetensors)).toThrow(/save_projection false/);
    expect(() => AdapterSet.fromPeft(model, { ...adapterConfig, r: 8 }, safetensors)).toThrow(
      /vera_A' has shape \[4,32\], expected \[8,32\]/,
    );
    set.dispose();
    imported.dispose();
    model.dispose();
  });

  it('runs on wasm within 1e-4 of cpu', async () => {
    const model = tinyModel(6);
    const set = attach(model);
    randomize(set, 30);
    const [x] = inputs(2);
    try {
      const cpu = await onBackend('cpu', () => logits(model, x, set));
      const wasm = await onBackend('wasm', () => logits(model, x, set));
      expect(maxDiff(wasm, cpu)).toBeLessThan(1e-4);
      expect(identical(cpu, await onBackend('cpu', () => logits(model, x)))).toBe(false);
    } finally {
      await initBackend('cpu');
    }
    set.dispose();
    model.dispose();
  });
});

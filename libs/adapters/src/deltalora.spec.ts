import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseSafetensors, serializeSafetensors, train } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { DeltaLoraModule, deltaLoraVariant, type DeltaLoraConfig } from './deltalora';
import { tinyModel } from '../../engine/src/testing/tiny-model';
import { batcher, fixedLogits } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

interface Snap {
  w: Float32Array[];
  a: Float32Array[];
  b: Float32Array[];
}

async function snap(set: AdapterSet): Promise<Snap> {
  const ms = set.modules() as DeltaLoraModule[];
  const read = (v: tf.Variable) => v.data().then((d) => Float32Array.from(d as Float32Array));
  return {
    w: await Promise.all(ms.map((m) => read(m.info.weight))),
    a: await Promise.all(ms.map((m) => read(m.a))),
    b: await Promise.all(ms.map((m) => read(m.b))),
  };
}

/** (B A)ᵀ `[in, out]` in float64 from row-major A `[r, in]`, B `[out, r]`. */
function baT(a: Float32Array, b: Float32Array, r: number, nIn: number, nOut: number): Float64Array {
  const out = new Float64Array(nIn * nOut);
  for (let i = 0; i < nIn; i++)
    for (let o = 0; o < nOut; o++) for (let k = 0; k < r; k++) out[i * nOut + o] += b[o * r + k] * a[k * nIn + i];
  return out;
}

describe('Delta-LoRA', () => {
  it('validates: no dropout, a frozen base, lambda >= 0; counts as LoRA', () => {
    const model = tinyModel();
    const attach = (config: Partial<DeltaLoraConfig>) =>
      AdapterSet.attach(model, { variant: deltaLoraVariant, targetModules: ['c_fc'], config });
    expect(() => attach({ dropout: 0.1 })).toThrow(/dropout must be 0/);
    expect(() => attach({ lambda: -1 })).toThrow(/lambda must be a number >= 0/);
    expect(() => attach({ startStep: 1.5 })).toThrow(/startStep must be an integer/);
    const set = attach({ r: 2 });
    expect(set.trainableParameterCount()).toBe(2 * (2 * 8 + 32 * 2));
    set.dispose();
    const trainable = tinyModel(1, {}, true);
    expect(() => AdapterSet.attach(trainable, { variant: deltaLoraVariant, targetModules: ['c_fc'] })).toThrow(
      /base weight of .* is trainable/,
    );
    trainable.dispose();
    model.dispose();
  });

  it('keeps W for t ≤ K, then moves it by exactly λ·s·Δ(B A) each step, with no gradient or optimizer state', async () => {
    const model = tinyModel(2);
    const K = 3;
    const lambda = 2;
    const set = AdapterSet.attach(model, {
      variant: deltaLoraVariant,
      targetModules: ['c_attn', 'mlp.c_proj'],
      config: { r: 2, alpha: 4, lambda, startStep: K },
      seed: 3,
    });
    expect(set.namedTrainableVariables().every(([n]) => /lora_[AB]\.weight$/.test(n))).toBe(true);
    expect(model.namedTrainableVariables()).toEqual([]);
    const snaps: Snap[] = [await snap(set)];
    const counts: number[] = [];
    await train(
      { model, adapters: set, batcher: batcher(), steps: 7, lr: 2e-2, logEvery: 1 },
      {
        onLog: async ({ step }) => {
          counts[step] = tf.memory().numTensors;
          snaps[step] = await snap(set);
        },
      },
    );
    expect(counts[5]).toBe(counts[2]);
    const ms = set.modules() as DeltaLoraModule[];
    for (let t = 1; t <= 7; t++) {
      ms.forEach((m, i) => {
        const { inFeatures: nIn, outFeatures: nOut } = m.info;
        const w0 = snaps[t - 1].w[i];
        const w1 = snaps[t].w[i];
        if (t <= K) {
          expect(Array.from(w1)).toEqual(Array.from(w0));
          return;
        }
        const now = baT(snaps[t].a[i], snaps[t].b[i], 2, nIn, nOut);
        const before = baT(snaps[t - 1].a[i], snaps[t - 1].b[i], 2, nIn, nOut);
        let biggest = 0;
        for (let j = 0; j < w1.length; j++) {
          const want = lambda * m.scaling * (now[j] - before[j]);
          biggest = Math.max(biggest, Math.abs(want));
          expect(Math.abs(w1[j] - w0[j] - want)).toBeLessThan(1e-6);
        }
        expect(biggest).toBeGreaterThan(1e-4);
      });
    }
    set.dispose();
    model.dispose();
  });

  it('exports the rank-2r LoRA that reproduces the trained model on the ORIGINAL base (A_T, B_T alone do not)', async () => {
    const seed = 4;
    const model = tinyModel(seed);
    const lambda = 2;
    const set = AdapterSet.attach(model, {
      variant: deltaLoraVariant,
      targetModules: ['c_attn', 'c_fc', 'attn.c_proj'],
      config: { r: 2, alpha: 4, lambda, startStep: 2 },
      seed: 5,
    });
    await train({ model, adapters: set, batcher: batcher(), steps: 8, lr: 2e-2 });
    const trained = await fixedLogits(model, set);

    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, use_dora: false });
    const tensors = parseSafetensors(safetensors).tensors;
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')?.shape).toEqual([4, 8]);
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')?.shape).toEqual([24, 4]);

    const original = tinyModel(seed);
    const imported = AdapterSet.fromPeft(original, adapterConfig, safetensors);
    expect(imported.variant.name).toBe('lora');
    const got = await fixedLogits(original, imported);
    let err = 0;
    trained.forEach((v, i) => (err = Math.max(err, Math.abs(got[i] - v))));
    expect(err).toBeLessThan(1e-5);

    // The naive export (A_T, B_T at r, alpha) misses the W updates.
    const naive: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const m of set.modules() as DeltaLoraModule[]) {
      for (const [k, v] of [
        ['lora_A.weight', m.a],
        ['lora_B.weight', m.b],
      ] as const) {
        naive[`base_model.model.${m.info.path}.${k}`] = { dtype: 'F32', shape: [...v.shape], data: (await v.data()) as Float32Array };
      }
    }
    const wrong = AdapterSet.fromPeft(original, { ...adapterConfig, r: 2, lora_alpha: 4 }, serializeSafetensors(naive));
    const bad = await fixedLogits(original, wrong);
    expect(Math.max(...trained.map((v, i) => Math.abs(bad[i] - v)))).toBeGreaterThan(1e-3);

    // Merged into the moved W: the same model again.
    set.merge();
    const merged = await fixedLogits(model);
    merged.forEach((v, i) => expect(v).toBeCloseTo(trained[i], 4));
    set.unmerge();
    for (const s of [set, imported, wrong]) s.dispose();
    original.dispose();
    model.dispose();
  });

  it('exports B_T alone (no −λ B_K half) when W never moved', async () => {
    const model = tinyModel(6);
    const set = AdapterSet.attach(model, { variant: deltaLoraVariant, targetModules: ['c_fc'], config: { r: 2, startStep: 500 } });
    await train({ model, adapters: set, batcher: batcher(), steps: 3, lr: 2e-2 });
    const want = await fixedLogits(model, set);
    const { adapterConfig, safetensors } = await set.exportPeft();
    const original = tinyModel(6);
    const imported = AdapterSet.fromPeft(original, adapterConfig, safetensors);
    const got = await fixedLogits(original, imported);
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    for (const s of [set, imported]) s.dispose();
    original.dispose();
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { initBackend, train } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { loraFaVariant, LoraFaModule, symmetricPinv } from './lorafa';
import { Rng } from '../../engine/src/io/rng';
import { tinyModel, tokens } from '../../engine/src/testing/tiny-model';
import { B, batcher, fixedLogits, T } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Gauss–Jordan inverse with partial pivoting, float64 (an independent reference). */
function inverse(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

function rows(data: ArrayLike<number>, r: number, c: number): number[][] {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => data[i * c + j]));
}

function matmul(x: number[][], y: number[][]): number[][] {
  return x.map((row) => y[0].map((_, j) => row.reduce((s, v, k) => s + v * y[k][j], 0)));
}

describe('LoRA-FA', () => {
  it('symmetricPinv is the inverse of an SPD matrix and the pseudo-inverse of a singular one', () => {
    const rng = new Rng(4);
    const n = 5;
    const x = rows(
      Array.from({ length: n * 7 }, () => rng.normal()),
      n,
      7,
    );
    const spd = matmul(
      x,
      x[0].map((_, j) => x.map((row) => row[j])),
    );
    const want = inverse(spd);
    const got = symmetricPinv(Float64Array.from(spd.flat()), n);
    want.flat().forEach((v, i) => expect(got[i]).toBeCloseTo(v, 10));

    // Rank 2 in 3×3 plus PEFT's 1e-8: torch.linalg.pinv drops the 1e-8 direction (below 3 · eps32 · σmax).
    const a = [
      [1, 0.5],
      [0.2, 1],
      [1.2, 1.5],
    ];
    const m = matmul(a, [a.map((r) => r[0]), a.map((r) => r[1])]).map((row, i) => row.map((v, j) => v + (i === j ? 1e-8 : 0)));
    const p = rows(symmetricPinv(Float64Array.from(m.flat()), 3), 3, 3);
    matmul(matmul(m, p), m)
      .flat()
      .forEach((v, i) => expect(v).toBeCloseTo(m.flat()[i], 8));
    expect(Math.max(...p.flat().map(Math.abs))).toBeLessThan(100);
  });

  it('freezes A: only B is trainable and counted', () => {
    const model = tinyModel();
    const set = AdapterSet.attach(model, { variant: loraFaVariant, targetModules: ['c_attn', 'c_fc'], config: { r: 4 } });
    expect(set.namedTrainableVariables().map(([n]) => n.split('.').slice(-2).join('.'))).toEqual(Array(4).fill('lora_B.weight'));
    // B only: c_attn 24·4, c_fc 32·4, per layer.
    expect(set.trainableParameterCount()).toBe(2 * (24 * 4 + 32 * 4));
    expect((set.modules()[0] as LoraFaModule).a.trainable).toBe(false);
    set.dispose();
    model.dispose();
  });

  it("corrects B's gradient to (1/s²) g_B (A Aᵀ + 1e-8 I)⁻¹, as a float64 reference computes it", async () => {
    const model = tinyModel(2);
    const r = 3;
    const set = AdapterSet.attach(model, {
      variant: loraFaVariant,
      targetModules: ['c_attn', 'mlp.c_proj'],
      config: { r, alpha: 6 },
      seed: 4,
    });
    const x = tf.tensor2d(tokens(B * T, 13, 5), [B, T], 'int32');
    const y = tf.tensor2d(tokens(B * T, 13, 6), [B, T], 'int32');
    const named = set.namedTrainableVariables();
    const { grads: raw } = tf.variableGrads(
      () => model.loss(x, y, { adapters: set, training: true }),
      named.map(([, v]) => v),
    );
    const grads = Object.fromEntries(named.map(([n, v]) => [n, raw[v.name]]));
    const corrected = set.transformGradients(grads, 1);
    for (const m of set.modules() as LoraFaModule[]) {
      const key = `${m.info.path}.lora_B.weight`;
      const a = rows(await m.a.data(), r, m.info.inFeatures);
      const aat = matmul(
        a,
        a[0].map((_, j) => a.map((row) => row[j])),
      ).map((row, i) => row.map((v, j) => v + (i === j ? 1e-8 : 0)));
      const g = rows(await grads[key].data(), m.info.outFeatures, r);
      const s = 6 / r;
      const want = matmul(g, inverse(aat))
        .flat()
        .map((v) => v / (s * s));
      const got = await corrected[key].data();
      const scale = Math.max(...want.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-4);
      want.forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThan(1e-5 * scale));
    }
    // Off: gradients pass through untouched.
    const off = AdapterSet.attach(model, { variant: loraFaVariant, targetModules: ['c_fc'], config: { gradientCorrection: false } });
    expect((off.modules()[0] as LoraFaModule).correction).toBeNull();
    const g0 = { 'transformer.h.0.mlp.c_fc.lora_B.weight': tf.ones([32, 8]) };
    expect(off.transformGradients(g0, 1)).toBe(g0);
    tf.dispose([x, y, ...Object.values(raw), ...Object.values(corrected), ...Object.values(g0)]);
    off.dispose();
    set.dispose();
    model.dispose();
  });

  it('trains B only: A stays bit-identical, the loss drops, no tensors leak; exports as plain LoRA', async () => {
    const model = tinyModel(3);
    const set = AdapterSet.attach(model, {
      variant: loraFaVariant,
      targetModules: ['c_attn', 'c_fc'],
      config: { r: 4, alpha: 8 },
      seed: 2,
    });
    const a0 = await Promise.all((set.modules() as LoraFaModule[]).map(async (m) => Float32Array.from(await m.a.data())));
    const counts: number[] = [];
    const losses: number[] = [];
    await train(
      { model, adapters: set, batcher: batcher(), steps: 20, lr: 1e-2, logEvery: 1, clipNorm: 1 },
      {
        onLog: ({ step, loss }) => {
          counts[step] = tf.memory().numTensors;
          losses[step] = loss;
        },
      },
    );
    expect(counts[5]).toBe(counts[2]);
    expect(losses[20]).toBeLessThan(losses[1] - 0.1);
    for (const [i, m] of (set.modules() as LoraFaModule[]).entries()) {
      expect(Array.from(await m.a.data())).toEqual(Array.from(a0[i]));
      expect(Math.max(...Array.from(await m.b.data()).map(Math.abs))).toBeGreaterThan(0);
    }
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8 });
    const imported = AdapterSet.fromPeft(model, adapterConfig, safetensors);
    expect(imported.variant.name).toBe('lora');
    expect(Array.from(await fixedLogits(model, imported))).toEqual(Array.from(await fixedLogits(model, set)));
    imported.dispose();
    set.dispose();
    model.dispose();
  });
});

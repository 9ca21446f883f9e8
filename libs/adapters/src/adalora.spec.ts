import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseSafetensors, train, type Gpt2Model } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { AdaLoraModule, adaloraAllocator, adaloraVariant, type AdaLoraConfig } from './adalora';
import { gradCheck } from '../../engine/src/testing/grad-check';
import { tinyModel, tokens } from '../../engine/src/testing/tiny-model';
import { B, batcher, fixedLogits, T } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

function attach(model: Gpt2Model, config: Partial<AdaLoraConfig>, targetModules = ['c_attn', 'mlp.c_proj'], seed = 1) {
  return AdapterSet.attach(model, {
    variant: adaloraVariant,
    targetModules,
    config: { totalStep: 100, targetR: 2, ...config },
    seed,
  }) as AdapterSet<AdaLoraConfig>;
}

function randomize(set: AdapterSet, seed: number, std = 0.4): void {
  for (const m of set.modules() as AdaLoraModule[]) {
    for (const v of [m.a, m.e, m.b]) v.assign(tf.randomNormal(v.shape, 0, std, 'float32', seed++));
  }
}

describe('AdaLoRA', () => {
  it('starts as the base model (E = 0), counts A + E + B at init_r, and validates its config', async () => {
    const model = tinyModel();
    const set = attach(model, { initR: 6 });
    for (const m of set.modules() as AdaLoraModule[]) {
      expect(Array.from(await m.e.data()).every((v) => v === 0)).toBe(true);
      const a = Array.from(await m.a.data());
      const std = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      expect(std).toBeGreaterThan(0.01);
      expect(std).toBeLessThan(0.04);
    }
    expect(Array.from(await fixedLogits(model, set))).toEqual(Array.from(await fixedLogits(model)));
    // c_attn: 6·8 + 6 + 24·6; mlp.c_proj: 6·32 + 6 + 8·6; two layers.
    expect(set.trainableParameterCount()).toBe(2 * (48 + 6 + 144 + 192 + 6 + 48));
    expect(
      set
        .namedTrainableVariables()
        .map(([n]) => n)
        .slice(0, 3),
    ).toEqual(['transformer.h.0.attn.c_attn.lora_A', 'transformer.h.0.attn.c_attn.lora_E', 'transformer.h.0.attn.c_attn.lora_B']);
    const bad = (c: Partial<AdaLoraConfig>) => () =>
      AdapterSet.attach(model, { variant: adaloraVariant, targetModules: ['c_fc'], config: c });
    expect(bad({})).toThrow(/totalStep is required/);
    expect(bad({ totalStep: 10, tinit: 6, tfinal: 4 })).toThrow(/tinit \(6\) must be below totalStep - tfinal/);
    expect(bad({ totalStep: 10, targetR: 13 })).toThrow(/targetR must be an integer in \[0, initR = 12\]/);
    expect(bad({ totalStep: 10, beta1: 1 })).toThrow(/beta1 must be in \(0, 1\)/);
    expect(bad({ totalStep: 10, deltaT: 0 })).toThrow(/deltaT must be a positive integer/);
    set.dispose();
    model.dispose();
  });

  it("adds PEFT's orthogonal regulariser: γ · mean over every A and B of ||A Aᵀ − I||_F, ||Bᵀ B − I||_F", async () => {
    const model = tinyModel();
    const set = attach(model, { initR: 4, orthRegWeight: 0.5 });
    randomize(set, 3);
    let sum = 0;
    let count = 0;
    for (const m of set.modules() as AdaLoraModule[]) {
      const a = await m.a.data();
      const b = await m.b.data();
      const r = 4;
      const nIn = m.info.inFeatures;
      const nOut = m.info.outFeatures;
      let fa = 0;
      for (let i = 0; i < r; i++)
        for (let j = 0; j < r; j++) {
          let s = 0;
          for (let k = 0; k < nIn; k++) s += a[i * nIn + k] * a[j * nIn + k];
          fa += (s - (i === j ? 1 : 0)) ** 2;
        }
      let fb = 0;
      for (let i = 0; i < r; i++)
        for (let j = 0; j < r; j++) {
          let s = 0;
          for (let o = 0; o < nOut; o++) s += b[o * r + i] * b[o * r + j];
          fb += (s - (i === j ? 1 : 0)) ** 2;
        }
      sum += Math.sqrt(fa) + Math.sqrt(fb);
      count += 2;
    }
    const reg = set.regularizer()!;
    expect((await reg.data())[0]).toBeCloseTo((0.5 * sum) / count, 5);
    reg.dispose();
    set.dispose();
    model.dispose();
  });

  it('has gradients w.r.t. A, E and B (regulariser included) that match central finite differences', async () => {
    const model = tinyModel(2);
    const set = attach(model, { initR: 3, alpha: 6 });
    randomize(set, 10);
    const x = tf.tensor2d(tokens(B * T, 13, 5), [B, T], 'int32');
    const y = tf.tensor2d(tokens(B * T, 13, 6), [B, T], 'int32');
    const loss = () => tf.tidy(() => tf.add(model.loss(x, y, { adapters: set, training: true }), set.regularizer()!) as tf.Scalar);
    for (const m of [set.module('transformer.h.0.attn.c_attn'), set.module('transformer.h.1.mlp.c_proj')] as AdaLoraModule[]) {
      for (const v of [m.a, m.e, m.b]) {
        for (const r of await gradCheck(loss, v, 1e-2, 3)) expect(r.relError).toBeLessThan(1e-2);
      }
    }
    tf.dispose([x, y]);
    set.dispose();
    model.dispose();
  });

  it('allocates the rank budget on schedule: total rank = b(t) at every budget step, masked E exactly 0, no leaks', async () => {
    const model = tinyModel(3);
    const cfg = { initR: 4, targetR: 2, tinit: 5, tfinal: 10, deltaT: 3, totalStep: 40 };
    const set = attach(model, cfg);
    const n = set.modules().length;
    const allocator = adaloraAllocator(set);
    const b0 = 4 * n;
    const bT = 2 * n;
    const formula = (t: number) =>
      t <= cfg.tinit
        ? b0
        : t > cfg.totalStep - cfg.tfinal
          ? bT
          : Math.floor(bT + (b0 - bT) * (1 - (t - cfg.tinit) / (cfg.totalStep - cfg.tfinal - cfg.tinit)) ** 3);
    for (let t = 1; t <= 40; t++) expect(allocator.budgetAt(t)).toBe(formula(t));

    const counts: number[] = [];
    const maskedAfterStep: Record<number, number[]> = {};
    const eAt: Record<number, Float32Array[]> = {};
    const patterns: Record<number, boolean[][]> = {};
    await train(
      { model, adapters: set, batcher: batcher(), steps: 40, lr: 1e-2, logEvery: 1 },
      {
        onLog: async ({ step }) => {
          counts[step] = tf.memory().numTensors;
          const modules = set.modules() as AdaLoraModule[];
          eAt[step] = await Promise.all(modules.map(async (m) => Float32Array.from(await m.e.data())));
          patterns[step] = modules.map((m) => [...m.keep]);
          maskedAfterStep[step] = modules.flatMap((m, i) => m.keep.flatMap((k, j) => (k ? [] : [eAt[step][i][j]])));
        },
      },
    );
    expect(counts[5]).toBe(counts[2]);
    expect(counts[40]).toBe(counts[2]);

    const history = allocator.rankHistory();
    // Budget steps: multiples of deltaT after tinit and before the final phase, then the forced one at T - tfinal.
    expect(history.map((h) => h.step)).toEqual([6, 9, 12, 15, 18, 21, 24, 27, 30]);
    for (const h of history) {
      const total = Object.values(h.ranks).reduce((s, r) => s + r, 0);
      expect(h.budget).toBe(formula(h.step));
      expect(total).toBe(h.budget);
      expect(Object.keys(h.ranks)).toEqual(set.modules().map((m) => m.info.path));
      // The E entries of masked triplets are exactly zero right after the allocation.
      expect(maskedAfterStep[h.step].length).toBe(b0 - h.budget);
      for (const v of maskedAfterStep[h.step]) expect(Object.is(v, 0)).toBe(true);
    }
    expect(history[0].budget).toBeLessThan(b0);
    expect(history.at(-1)!.budget).toBe(bT);
    // Between allocations, masked triplets keep training (they may revive at the next allocation).
    expect(maskedAfterStep[7].some((v) => v !== 0)).toBe(true);
    // Final phase: the pattern of step 30, re-applied after every step.
    for (let t = 31; t <= 40; t++) {
      expect(patterns[t]).toEqual(patterns[30]);
      for (const v of maskedAfterStep[t]) expect(Object.is(v, 0)).toBe(true);
    }
    set.dispose();
    model.dispose();
  });

  it('exports rank_pattern and tensors cut to the kept rank, and imports them back to the same logits', async () => {
    const model = tinyModel(4);
    const set = attach(model, { initR: 4, targetR: 2, tinit: 2, tfinal: 3, deltaT: 2, totalStep: 12 }, ['c_attn', 'attn.c_proj']);
    await train({ model, adapters: set, batcher: batcher(), steps: 12, lr: 1e-2 });
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({
      peft_type: 'ADALORA',
      init_r: 4,
      target_r: 2,
      tinit: 2,
      tfinal: 3,
      deltaT: 2,
      beta1: 0.85,
      beta2: 0.85,
      orth_reg_weight: 0.5,
      total_step: 12,
      lora_alpha: 8,
      fan_in_fan_out: true,
      target_modules: ['c_attn', 'attn.c_proj'],
    });
    const pattern = adapterConfig.rank_pattern as Record<string, boolean[]>;
    expect(Object.keys(pattern)).toEqual(set.modules().map((m) => `${m.info.path}.lora_E`));
    const tensors = parseSafetensors(safetensors).tensors;
    let total = 0;
    for (const m of set.modules() as AdaLoraModule[]) {
      const keep = pattern[`${m.info.path}.lora_E`];
      const rl = keep.filter(Boolean).length;
      expect(keep).toHaveLength(4);
      total += rl;
      const key = `base_model.model.${m.info.path}`;
      expect(tensors.get(`${key}.lora_A`)?.shape).toEqual([rl, m.info.inFeatures]);
      expect(tensors.get(`${key}.lora_E`)?.shape).toEqual([rl, 1]);
      expect(tensors.get(`${key}.lora_B`)?.shape).toEqual([m.info.outFeatures, rl]);
    }
    expect(total).toBe(2 * set.modules().length);
    expect(tensors.size).toBe(3 * set.modules().length);

    const want = await fixedLogits(model, set);
    expect(Array.from(want)).not.toEqual(Array.from(await fixedLogits(model)));
    const imported = AdapterSet.fromPeft(model, JSON.parse(JSON.stringify(adapterConfig)), safetensors);
    expect(imported.variant.name).toBe('adalora');
    const got = await fixedLogits(model, imported);
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    expect((imported.modules() as AdaLoraModule[]).map((m) => m.keep)).toEqual((set.modules() as AdaLoraModule[]).map((m) => m.keep));
    // Keys with PEFT's `base_model.model.` prefix read the same.
    const prefixed = {
      ...adapterConfig,
      rank_pattern: Object.fromEntries(Object.entries(pattern).map(([k, v]) => [`base_model.model.${k}`, v])),
    };
    const again = AdapterSet.fromPeft(model, prefixed, safetensors);
    expect(Array.from(await fixedLogits(model, again))).toEqual(Array.from(got));
    expect(() => AdapterSet.fromPeft(model, { ...adapterConfig, rank_pattern: {} }, safetensors)).toThrow(
      /has shape \[\d+,8\], expected \[4,8\]/,
    );

    // Merge folds P Λ Q in: same logits from the base alone.
    set.merge();
    const merged = await fixedLogits(model);
    want.forEach((v, i) => expect(merged[i]).toBeCloseTo(v, 4));
    set.unmerge();
    for (const s of [imported, again, set]) s.dispose();
    model.dispose();
  });
});

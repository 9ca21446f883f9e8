import * as tf from '@tensorflow/tfjs-core';
import { evaluate, initBackend, parseSafetensors, train, type BatchSource, type Gpt2Model } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { LoraModule } from './lora';
// Test-only helpers of the engine (not part of its public API).
import { gradCheck } from '../../engine/src/testing/grad-check';
import { tinyModel, tokens } from '../../engine/src/testing/tiny-model';

beforeAll(async () => {
  await initBackend('cpu');
});

const B = 2;
const T = 4;

function inputs(seed = 1): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(tokens(B * T, 13, seed), [B, T], 'int32'), tf.tensor2d(tokens(B * T, 13, seed + 100), [B, T], 'int32')];
}

function batcher(seed = 3): BatchSource {
  const batch = { inputs: tokens(B * T, 13, seed), targets: tokens(B * T, 13, seed + 1) };
  return { next: () => batch, getState: () => ({ batchSize: B, seqLen: T }) };
}

async function logits(model: Gpt2Model, x: tf.Tensor2D, adapters?: AdapterSet): Promise<Float32Array> {
  const y = model.forward(x, { adapters });
  const data = (await y.data()) as Float32Array;
  y.dispose();
  return data;
}

function identical(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Gives every B a random value so A's gradient is not zero. */
function randomizeB(set: AdapterSet, seed: number): void {
  for (const m of set.modules() as LoraModule[]) {
    m.b.assign(tf.randomNormal(m.b.shape, 0, 0.5, 'float32', seed++));
  }
}

describe('AdapterSet + LoRA', () => {
  it('matches PEFT target-module suffix matching and counts parameters', () => {
    const model = tinyModel();
    const both = AdapterSet.attach(model, { targetModules: ['c_proj'] });
    expect(both.modules().map((m) => m.info.path)).toEqual([
      'transformer.h.0.attn.c_proj',
      'transformer.h.0.mlp.c_proj',
      'transformer.h.1.attn.c_proj',
      'transformer.h.1.mlp.c_proj',
    ]);
    // r 8: attn.c_proj 8·(8 + 8), mlp.c_proj 8·(32 + 8), per layer.
    expect(both.trainableParameterCount()).toBe(2 * (8 * 16 + 8 * 40));
    const attn = AdapterSet.attach(model, { targetModules: ['attn.c_proj', 'c_attn'], config: { r: 2 } });
    expect(attn.modules().map((m) => m.info.path)).toEqual([
      'transformer.h.0.attn.c_attn',
      'transformer.h.0.attn.c_proj',
      'transformer.h.1.attn.c_attn',
      'transformer.h.1.attn.c_proj',
    ]);
    expect(() => AdapterSet.attach(model, { targetModules: ['q_proj'] })).toThrow(/'q_proj' matches no module.*c_attn/);
    const regex = AdapterSet.attach(model, { targetModules: 'transformer\\.h\\.1\\..*c_(fc|attn)' });
    expect(regex.modules().map((m) => m.info.path)).toEqual(['transformer.h.1.attn.c_attn', 'transformer.h.1.mlp.c_fc']);
    regex.dispose();
    expect(() => AdapterSet.attach(model, { targetModules: ['c_fc'], config: { r: 0 } })).toThrow(/r must be a positive integer/);
    both.dispose();
    attn.dispose();
    model.dispose();
  });

  it('initialises A ~ U(-1/sqrt(in), 1/sqrt(in)) deterministically and B = 0, so the adapted model equals the base exactly', async () => {
    const model = tinyModel();
    const set = AdapterSet.attach(model, { targetModules: ['c_attn', 'c_fc', 'c_proj'], seed: 7 });
    const again = AdapterSet.attach(model, { targetModules: ['c_attn', 'c_fc', 'c_proj'], seed: 7 });
    for (const [i, m] of (set.modules() as LoraModule[]).entries()) {
      const a = (await m.a.data()) as Float32Array;
      const bound = 1 / Math.sqrt(m.info.inFeatures);
      expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(bound / 2);
      expect(Array.from((await m.b.data()) as Float32Array).every((v) => v === 0)).toBe(true);
      expect(identical(a, (await (again.modules()[i] as LoraModule).a.data()) as Float32Array)).toBe(true);
    }
    const [x] = inputs();
    expect(identical(await logits(model, x, set), await logits(model, x))).toBe(true);
    set.dispose();
    again.dispose();
    model.dispose();
  });

  it('has gradients w.r.t. A and B that match central finite differences', async () => {
    const model = tinyModel(2);
    const set = AdapterSet.attach(model, { targetModules: ['c_attn', 'mlp.c_proj'], config: { r: 4, alpha: 8 }, seed: 1 });
    randomizeB(set, 10);
    const [x, y] = inputs(5);
    const loss = () => model.loss(x, y, { adapters: set, training: true });
    for (const m of [set.module('transformer.h.0.attn.c_attn'), set.module('transformer.h.1.mlp.c_proj')] as LoraModule[]) {
      for (const v of [m.a, m.b]) {
        for (const r of await gradCheck(loss, v, 1e-2, 3)) expect(r.relError).toBeLessThan(1e-2);
      }
    }
    set.dispose();
    model.dispose();
  });

  it('scales by alpha/r, or alpha/sqrt(r) with rsLoRA', () => {
    const model = tinyModel();
    const plain = AdapterSet.attach(model, { targetModules: ['c_fc'], config: { r: 4, alpha: 8 } });
    const rs = AdapterSet.attach(model, { targetModules: ['c_fc'], config: { r: 4, alpha: 8, useRslora: true } });
    expect((plain.modules()[0] as LoraModule).scaling).toBe(2);
    expect((rs.modules()[0] as LoraModule).scaling).toBe(4);
    plain.dispose();
    rs.dispose();
    model.dispose();
  });

  it('trains only the adapters: base weights stay bit-identical, the loss drops, no tensors leak', async () => {
    const model = tinyModel(3);
    const set = AdapterSet.attach(model, { targetModules: ['c_attn', 'c_fc'], config: { r: 4, alpha: 8, dropout: 0.1 }, seed: 2 });
    const before = new Map<string, Float32Array>();
    for (const name of model.weightNames()) before.set(name, Float32Array.from((await model.weight(name).data()) as Float32Array));
    const counts: number[] = [];
    const src = batcher();
    const batch = src.next();
    const initial = await evaluate(model, [batch], set, { seqLen: T });
    const result = await train(
      { model, adapters: set, batcher: src, steps: 30, lr: 2e-2, logEvery: 1 },
      { onLog: ({ step }) => void (counts[step] = tf.memory().numTensors) },
    );
    expect(counts[5]).toBe(counts[2]);
    expect(result.finalTrainLoss).toBeLessThan(initial - 0.3);
    for (const name of model.weightNames()) {
      expect(identical((await model.weight(name).data()) as Float32Array, before.get(name)!)).toBe(true);
    }
    set.dispose();
    model.dispose();
  });

  it('releases every tensor once the adapters, the optimizer and the model are disposed', async () => {
    const before = tf.memory().numTensors;
    const model = tinyModel(6);
    const set = AdapterSet.attach(model, { targetModules: ['c_attn'], config: { r: 2 } });
    await train({ model, adapters: set, batcher: batcher(), steps: 2, lr: 1e-3, logEvery: 1 });
    await evaluate(model, [batcher().next()], set, { seqLen: T });
    set.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('exports a PEFT folder that imports back to identical logits', async () => {
    const model = tinyModel(4);
    const set = AdapterSet.attach(model, {
      targetModules: ['c_attn', 'attn.c_proj'],
      config: { r: 2, alpha: 4 },
      seed: 3,
      baseModelNameOrPath: 'models/tiny',
    });
    randomizeB(set, 20);
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 2,
      lora_alpha: 4,
      lora_dropout: 0,
      target_modules: ['c_attn', 'attn.c_proj'],
      fan_in_fan_out: true,
      use_rslora: false,
      use_dora: false,
      bias: 'none',
      base_model_name_or_path: 'models/tiny',
      rank_pattern: {},
      alpha_pattern: {},
    });
    const parsed = parseSafetensors(safetensors);
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect(parsed.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')?.shape).toEqual([2, 8]);
    expect(parsed.tensors.get('base_model.model.transformer.h.1.attn.c_proj.lora_B.weight')?.shape).toEqual([8, 2]);
    expect(parsed.tensors.size).toBe(8);

    const imported = AdapterSet.fromPeft(model, JSON.parse(JSON.stringify(adapterConfig)), safetensors);
    const [x] = inputs(9);
    const want = await logits(model, x, set);
    expect(identical(await logits(model, x, imported), want)).toBe(true);
    expect(identical(await logits(model, x), want)).toBe(false);

    expect(() => AdapterSet.fromPeft(model, { ...adapterConfig, peft_type: 'IA3' }, safetensors)).toThrow(/unsupported adapter/);
    expect(() => AdapterSet.fromPeft(model, { ...adapterConfig, r: 4 }, safetensors)).toThrow(/has shape \[2,8\], expected \[4,8\]/);
    set.dispose();
    imported.dispose();
    model.dispose();
  });
});

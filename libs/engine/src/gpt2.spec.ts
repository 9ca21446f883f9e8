import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { Gpt2Model, HostTensor } from './gpt2';
import { loadHfModel, saveHfModel } from './hf';
import { ByteTokenizer } from './io/byte-tokenizer';
import { parseSafetensors } from './io/safetensors';
import { gradCheck } from './testing/grad-check';
import { randomWeights, tinyConfig, tinyModel, tokens } from './testing/tiny-model';

beforeAll(async () => {
  await initBackend('cpu');
});

function ids(data: Int32Array, b: number, t: number): tf.Tensor2D {
  return tf.tensor2d(data, [b, t], 'int32');
}

describe('Gpt2Model', () => {
  it('produces [B, T, V] logits and a loss near ln V for small weights', async () => {
    const config = tinyConfig();
    const model = Gpt2Model.random(config, { seed: 3 });
    const x = ids(tokens(2 * 4, config.vocabSize, 1), 2, 4);
    const logits = model.forward(x);
    expect(logits.shape).toEqual([2, 4, config.vocabSize]);
    const loss = model.loss(x, ids(tokens(8, config.vocabSize, 2), 2, 4));
    expect((await loss.data())[0]).toBeCloseTo(Math.log(config.vocabSize), 1);
    tf.dispose([x, logits, loss]);
    model.dispose();
  });

  it('is causal: logits at position t do not depend on later tokens', async () => {
    const model = tinyModel(2);
    const a = tokens(6, 13, 5);
    const b = Int32Array.from(a);
    b[5] = (b[5] + 1) % 13;
    const la = (await model.forward(ids(a, 1, 6)).data()) as Float32Array;
    const lb = (await model.forward(ids(b, 1, 6)).data()) as Float32Array;
    expect(Array.from(la.subarray(0, 5 * 13))).toEqual(Array.from(lb.subarray(0, 5 * 13)));
    expect(Array.from(la.subarray(5 * 13))).not.toEqual(Array.from(lb.subarray(5 * 13)));
    model.dispose();
  });

  it('matches central finite differences for a base weight in pretraining mode', async () => {
    const model = tinyModel(4, {}, true);
    const x = ids(tokens(8, 13, 6), 2, 4);
    const y = ids(tokens(8, 13, 7), 2, 4);
    const loss = () => model.loss(x, y, { training: true });
    for (const name of ['h.0.attn.c_attn.weight', 'wte.weight', 'h.1.ln_2.bias']) {
      for (const r of await gradCheck(loss, model.weight(name), 1e-2, 3)) {
        expect(r.relError).toBeLessThan(1e-2);
      }
    }
    tf.dispose([x, y]);
    model.dispose();
  });

  it('accepts transformer.-prefixed keys and skips attention buffers', async () => {
    const config = tinyConfig();
    const weights = randomWeights(config, 9);
    const prefixed = new Map<string, HostTensor>();
    for (const [k, v] of weights) prefixed.set(`transformer.${k}`, v);
    prefixed.set('transformer.h.0.attn.bias', { shape: [1, 1, 8, 8], data: new Float32Array(64) });
    prefixed.set('h.1.attn.masked_bias', { shape: [], data: new Float32Array(1) });
    prefixed.set('lm_head.weight', weights.get('wte.weight')!);
    const a = Gpt2Model.fromWeights(config, weights);
    const b = Gpt2Model.fromWeights(config, prefixed);
    const x = ids(tokens(8, 13, 3), 2, 4);
    expect(Array.from(await b.forward(x).data())).toEqual(Array.from(await a.forward(x).data()));
    expect(() => Gpt2Model.fromWeights(config, new Map([...weights].filter(([k]) => k !== 'ln_f.bias')))).toThrow(
      /missing tensor 'ln_f.bias'/,
    );
    a.dispose();
    b.dispose();
  });

  it('round-trips through a Hugging Face folder with identical logits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpt2-hf-'));
    try {
      const config = tinyConfig({ vocabSize: 256 });
      const model = Gpt2Model.fromWeights(config, randomWeights(config, 11));
      await saveHfModel(dir, model, new ByteTokenizer());
      const loaded = await loadHfModel(dir);
      expect(loaded.tokenizer.name).toBe('byte');
      expect(loaded.config).toEqual({ ...config });
      const keys = [...parseSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors.keys()];
      expect(keys).toContain('h.0.attn.c_attn.weight');
      expect(keys).not.toContain('lm_head.weight');
      const x = ids(tokens(8, 256, 3), 2, 4);
      expect(Array.from(await loaded.model.forward(x).data())).toEqual(Array.from(await model.forward(x).data()));
      model.dispose();
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('supports an untied lm_head and the relu / exact gelu activations', async () => {
    for (const over of [{ tieWordEmbeddings: false }, { activation: 'relu' as const }, { activation: 'gelu' as const }]) {
      const model = tinyModel(5, over, true);
      const x = ids(tokens(8, 13, 6), 2, 4);
      const y = ids(tokens(8, 13, 7), 2, 4);
      const name = over.tieWordEmbeddings === false ? 'lm_head.weight' : 'h.0.mlp.c_fc.weight';
      for (const r of await gradCheck(() => model.loss(x, y), model.weight(name), 1e-2, 2)) expect(r.relError).toBeLessThan(1e-2);
      model.dispose();
    }
  });
});

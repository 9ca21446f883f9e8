// Merge / unmerge / mergedWeights for every variant that can fold into W (LoRA, DoRA, VeRA, LoRA-drop).
import * as tf from '@tensorflow/tfjs-core';
import { Gpt2Model, initBackend } from '@lora/engine';
import type { VariantDefinition } from './adapter';
import { AdapterSet } from './adapter-set';
import { doraVariant } from './dora';
import { LoraModule, loraVariant } from './lora';
import { loraDropVariant } from './loradrop';
import { veraVariant } from './vera';
import { tinyModel } from '../../engine/src/testing/tiny-model';
import { identical, inputs, logits, maxDiff, values } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

const TARGETS = ['c_attn', 'c_proj', 'c_fc'];

/** Moves every trainable off its init so ΔW is far from 0 (B, λ random; DoRA's m rescaled). */
function randomize(set: AdapterSet, seed: number): void {
  tf.tidy(() => {
    for (const [name, v] of set.namedTrainableVariables()) {
      if (name.endsWith('lora_magnitude_vector')) v.assign(tf.mul(v, tf.randomUniform(v.shape, 0.5, 1.5, 'float32', seed++)));
      else if (!name.endsWith('lora_A.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++));
    }
  });
}

const cases: Array<[string, VariantDefinition<object>, object]> = [
  ['LoRA', loraVariant as unknown as VariantDefinition<object>, { r: 2, alpha: 4 }],
  ['DoRA', doraVariant as unknown as VariantDefinition<object>, { r: 2, alpha: 4 }],
  ['VeRA', veraVariant as unknown as VariantDefinition<object>, { r: 4 }],
  ['LoRA-drop', loraDropVariant as unknown as VariantDefinition<object>, { r: 2, alpha: 4, selected: ['transformer.h.0.mlp.c_fc'] }],
];

describe.each(cases)('merge / unmerge: %s', (_name, variant, config) => {
  it('merged logits equal adapter logits; unmerge restores W; no tensors leak', async () => {
    const model = tinyModel(3);
    const set = AdapterSet.attach(model, { variant, config, targetModules: TARGETS, seed: 2 });
    randomize(set, 11);
    const [x] = inputs(7);
    const want = await logits(model, x, set);
    const base = await logits(model, x);
    expect(maxDiff(want, base)).toBeGreaterThan(1e-2);
    const weights = new Map<string, Float32Array>();
    for (const m of set.modules()) weights.set(m.info.path, await values(m.info.weight));
    const live = tf.memory().numTensors;

    set.merge();
    set.merge(); // idempotent
    expect(set.merged).toBe(true);
    for (const m of set.modules()) expect(maxDiff(await values(m.info.weight), weights.get(m.info.path)!)).toBeGreaterThan(1e-3);
    expect(maxDiff(await logits(model, x), want)).toBeLessThan(1e-5);
    // Still attached but merged: the hooks add nothing.
    expect(maxDiff(await logits(model, x, set), want)).toBeLessThan(1e-5);

    set.unmerge();
    expect(set.merged).toBe(false);
    for (const m of set.modules()) expect(maxDiff(await values(m.info.weight), weights.get(m.info.path)!)).toBeLessThan(1e-6);
    expect(maxDiff(await logits(model, x, set), want)).toBeLessThan(1e-5);
    expect(maxDiff(await logits(model, x), base)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(live);
    set.dispose();
    model.dispose();
  });

  it('mergedWeights gives a standalone model with the adapted logits and leaves the set unmerged', async () => {
    const model = tinyModel(4);
    const set = AdapterSet.attach(model, { variant, config, targetModules: TARGETS, seed: 3 });
    randomize(set, 21);
    const [x] = inputs(8);
    const want = await logits(model, x, set);
    const before = await values(model.weight('h.1.mlp.c_fc.weight'));
    const merged = await set.mergedWeights(model);
    expect(set.merged).toBe(false);
    expect(maxDiff(await values(model.weight('h.1.mlp.c_fc.weight')), before)).toBeLessThan(1e-6);
    expect([...merged.keys()].sort()).toEqual(model.weightNames().sort());
    const standalone = Gpt2Model.fromWeights(model.config, merged);
    expect(maxDiff(await logits(standalone, x), want)).toBeLessThan(1e-5);
    standalone.dispose();
    set.dispose();
    model.dispose();
  });
});

describe('merge errors', () => {
  it('names the variant and module when a module cannot merge, and merges nothing', async () => {
    const model = tinyModel(5);
    const noMerge: VariantDefinition<object> = {
      ...(loraVariant as unknown as VariantDefinition<object>),
      name: 'nomerge',
      create: (m, c, rng) => {
        const module = new LoraModule(m, c as never, rng);
        return module.info.path.endsWith('c_fc') ? Object.assign(module, { merge: undefined }) : module;
      },
    };
    const set = AdapterSet.attach(model, { variant: noMerge, targetModules: TARGETS });
    const w = await values(model.weight('h.0.attn.c_attn.weight'));
    expect(() => set.merge()).toThrow(/variant 'nomerge' cannot merge \(module transformer.h.0.mlp.c_fc/);
    expect(set.merged).toBe(false);
    expect(identical(await values(model.weight('h.0.attn.c_attn.weight')), w)).toBe(true);
    set.dispose();
    model.dispose();
  });
});

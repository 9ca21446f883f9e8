import * as tf from '@tensorflow/tfjs-core';
import { initBackend, train } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { LoraModule, loraVariant } from './lora';
import { loraPlusGroups, loraPlusVariant } from './loraplus';
import { tinyModel } from '../../engine/src/testing/tiny-model';
import { batcher, fixedLogits } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('LoRA+', () => {
  it('puts A at lr and B (and 1-D vectors) at ratio · lr, as PEFT groups them', () => {
    const model = tinyModel();
    const set = AdapterSet.attach(model, {
      variant: loraPlusVariant,
      targetModules: ['c_attn', 'c_fc'],
      config: { r: 2, loraplusLrRatio: 8 },
    });
    const groups = set.paramGroups();
    expect(groups.map((g) => [g.name, g.lrScale, g.variables.length])).toEqual([
      ['loraplus_A', 1, 4],
      ['loraplus_B', 8, 4],
    ]);
    expect(groups[0].variables.every(([n]) => n.endsWith('lora_A.weight'))).toBe(true);
    expect(groups[1].variables.every(([n]) => n.endsWith('lora_B.weight'))).toBe(true);
    const lora = AdapterSet.attach(model, { targetModules: ['c_attn', 'c_fc'], config: { r: 2 } });
    expect(set.trainableParameterCount()).toBe(lora.trainableParameterCount());
    lora.dispose();

    // PEFT's rule for other trainables: 1-D goes fast; a bias is never decayed.
    const bias = tf.variable(tf.zeros([3]));
    const mag = tf.variable(tf.ones([3]));
    const other = loraPlusGroups(
      [
        ['x.lora_A.weight', set.modules()[0].trainableVariables()[0][1]],
        ['x.bias', bias],
        ['x.lora_magnitude_vector', mag],
      ],
      16,
    );
    expect(other.map((g) => [g.name, g.lrScale, g.weightDecay, g.variables.map(([n]) => n)])).toEqual([
      ['loraplus_A', 1, undefined, ['x.lora_A.weight']],
      ['loraplus_B', 16, undefined, ['x.lora_magnitude_vector']],
      ['loraplus_B_no_decay', 16, 0, ['x.bias']],
    ]);
    expect(() => AdapterSet.attach(model, { variant: loraPlusVariant, targetModules: ['c_fc'], config: { loraplusLrRatio: 0 } })).toThrow(
      /loraplusLrRatio must be a positive number/,
    );
    tf.dispose([bias, mag]);
    set.dispose();
    model.dispose();
  });

  it("moves B exactly ratio times as far as plain LoRA on Adam's first step from the same state", async () => {
    const ratio = 16;
    const lr = 1e-3;
    const run = async (plus: boolean) => {
      const model = tinyModel(2);
      const set = plus
        ? AdapterSet.attach(model, {
            variant: loraPlusVariant,
            targetModules: ['c_attn', 'mlp.c_proj'],
            config: { r: 4, loraplusLrRatio: ratio },
            seed: 5,
          })
        : AdapterSet.attach(model, { variant: loraVariant, targetModules: ['c_attn', 'mlp.c_proj'], config: { r: 4 }, seed: 5 });
      const a0 = await Promise.all((set.modules() as LoraModule[]).map((m) => m.a.data()));
      await train({ model, adapters: set, batcher: batcher(), steps: 1, lr, schedule: 'constant' });
      const out = {
        a: await Promise.all((set.modules() as LoraModule[]).map((m) => m.a.data())),
        b: await Promise.all((set.modules() as LoraModule[]).map((m) => m.b.data())),
        a0,
      };
      set.dispose();
      model.dispose();
      return out;
    };
    const plain = await run(false);
    const plus = await run(true);
    for (let i = 0; i < plain.b.length; i++) {
      // B starts at 0: its value is the step. Adam's first step is lr · g / (|g| + eps) per entry.
      const bp = plain.b[i];
      const bq = plus.b[i];
      let moved = 0;
      for (let j = 0; j < bp.length; j++) {
        expect(Math.abs(bq[j] - ratio * bp[j])).toBeLessThanOrEqual(1e-6 * Math.abs(ratio * bp[j]) + 1e-12);
        if (Math.abs(bp[j]) > 0.5 * lr) moved++;
      }
      expect(moved).toBeGreaterThan(bp.length / 2);
      // A's gradient is zero while B = 0: neither run moves it.
      expect(Array.from(plus.a[i])).toEqual(Array.from(plus.a0[i]));
      expect(Array.from(plain.a[i])).toEqual(Array.from(plain.a0[i]));
    }
  });

  it('exports as plain LoRA, keeps the tensor count steady while training', async () => {
    const model = tinyModel(3);
    const set = AdapterSet.attach(model, { variant: loraPlusVariant, targetModules: ['c_attn'], config: { r: 2, alpha: 4 }, seed: 1 });
    const counts: number[] = [];
    await train(
      { model, adapters: set, batcher: batcher(), steps: 5, lr: 1e-2, logEvery: 1 },
      { onLog: ({ step }) => void (counts[step] = tf.memory().numTensors) },
    );
    expect(counts[5]).toBe(counts[2]);
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, use_dora: false });
    expect(adapterConfig).not.toHaveProperty('loraplusLrRatio');
    const imported = AdapterSet.fromPeft(model, adapterConfig, safetensors);
    expect(imported.variant.name).toBe('lora');
    expect(Array.from(await fixedLogits(model, imported))).toEqual(Array.from(await fixedLogits(model, set)));
    imported.dispose();
    set.dispose();
    model.dispose();
  });
});

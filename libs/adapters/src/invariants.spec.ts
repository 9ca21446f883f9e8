// Invariants every variant must keep, checked side by side: the adapted model equals the base model
// at step 0 (every variant whose delta starts at zero) and frozen base weights stay bit-identical
// through training (all but Delta-LoRA, whose W moves by design).
import { initBackend } from '@lora/engine';
import { tinyModel } from '../../engine/src/testing/tiny-model';
import { AdapterSet } from './adapter-set';
import type { VariantDefinition } from './adapter';
import { adaloraVariant } from './adalora';
import { deltaLoraVariant } from './deltalora';
import { doraVariant } from './dora';
import { loraVariant } from './lora';
import { loraFaVariant } from './lorafa';
import { loraPlusVariant } from './loraplus';
import { veraVariant } from './vera';
import { identical, inputs, logits, snapshotWeights, trainSteps } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

const TARGETS = ['c_attn', 'c_proj'];
const VARIANTS: Array<[string, VariantDefinition<object, unknown>, object]> = [
  ['lora', loraVariant as never, { r: 4, alpha: 8 }],
  ['loraplus', loraPlusVariant as never, { r: 4, alpha: 8 }],
  ['lorafa', loraFaVariant as never, { r: 4, alpha: 8 }],
  ['dora', doraVariant as never, { r: 4, alpha: 8 }],
  ['vera', veraVariant as never, { r: 8 }],
  ['adalora', adaloraVariant as never, { initR: 6, targetR: 3, totalStep: 10, tinit: 1, tfinal: 1, deltaT: 1 }],
  ['deltalora', deltaLoraVariant as never, { r: 4, alpha: 8, startStep: 1 }],
];

describe.each(VARIANTS)('%s', (name, variant, config) => {
  it('equals the base model at step 0 (bit-identical logits)', async () => {
    const model = tinyModel(7);
    const base = await logits(model, inputs()[0]);
    const set = AdapterSet.attach(model, { variant, config, targetModules: TARGETS, seed: 3 });
    try {
      expect(identical(await logits(model, inputs()[0], set), base)).toBe(true);
    } finally {
      set.dispose();
      model.dispose();
    }
  });

  it(
    name === 'deltalora'
      ? 'moves the base weights (by design) and nothing else of the base'
      : 'keeps every base weight bit-identical through training',
    async () => {
      const model = tinyModel(7);
      const set = AdapterSet.attach(model, { variant, config, targetModules: TARGETS, seed: 3 });
      try {
        const before = await snapshotWeights(model);
        await trainSteps(model, set, 4);
        const after = await snapshotWeights(model);
        const moved = [...before.keys()].filter((k) => !identical(before.get(k)!, after.get(k)!));
        if (name === 'deltalora') {
          expect(moved.length).toBeGreaterThan(0);
          expect(moved.every((k) => /\.(c_attn|c_proj)\.weight$/.test(k))).toBe(true);
        } else {
          expect(moved).toEqual([]);
        }
      } finally {
        set.dispose();
        model.dispose();
      }
    },
  );
});

// LoRA+ (Hayou et al. 2024, PEFT's create_loraplus_optimizer): LoRA's model, with B (and any 1-D
// trainable vector) in an optimizer group at `loraplusLrRatio` times A's learning rate. Exports as LoRA.
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamGroup } from '@lora/engine';
import type { VariantDefinition } from './adapter';
import { LORA_DEFAULTS, LoraModule, loraVariant, type LoraConfig } from './lora';

export interface LoraPlusConfig extends LoraConfig {
  /** B's learning rate over A's (PEFT's `loraplus_lr_ratio`). */
  loraplusLrRatio: number;
}

export const LORAPLUS_DEFAULTS: LoraPlusConfig = { ...LORA_DEFAULTS, loraplusLrRatio: 16 };

/**
 * PEFT's grouping: `lora_B` or 1-D → the fast group (at ratio · lr), split by whether the name
 * is a bias (no weight decay) or not; everything else → A's group at lr.
 */
export function loraPlusGroups(variables: Array<[string, tf.Variable]>, ratio: number): ParamGroup[] {
  const groupA: ParamGroup = { name: 'loraplus_A', variables: [], lrScale: 1 };
  const groupB: ParamGroup = { name: 'loraplus_B', variables: [], lrScale: ratio };
  const groupBNoDecay: ParamGroup = { name: 'loraplus_B_no_decay', variables: [], lrScale: ratio, weightDecay: 0 };
  for (const [name, v] of variables) {
    if (name.includes('lora_B') || v.rank === 1) (name.includes('bias') ? groupBNoDecay : groupB).variables.push([name, v]);
    else groupA.variables.push([name, v]);
  }
  return [groupA, groupB, groupBNoDecay].filter((g) => g.variables.length > 0);
}

export const loraPlusVariant: VariantDefinition<LoraPlusConfig> = {
  name: 'loraplus',
  defaults: LORAPLUS_DEFAULTS,
  validate(config) {
    loraVariant.validate?.(config);
    const ratio = config.loraplusLrRatio;
    if (!(typeof ratio === 'number' && Number.isFinite(ratio) && ratio > 0))
      throw new Error(`LoRA+ config: loraplusLrRatio must be a positive number (got ${String(ratio)}); PEFT's default is 16`);
  },
  create: (module, config, rng) => new LoraModule(module, config, rng),
  paramGroups: (ctx) =>
    loraPlusGroups(
      ctx.modules.flatMap((m) => m.trainableVariables().map(([k, v]): [string, tf.Variable] => [`${m.info.path}.${k}`, v])),
      ctx.config.loraplusLrRatio,
    ),
  // The trained adapter is a plain LoRA: PEFT (and our import) read it as one.
  peftConfig: (config, ctx) => loraVariant.peftConfig(config, ctx),
  matchesPeft: () => false,
  configFromPeft: (cfg) => ({ ...loraVariant.configFromPeft(cfg), loraplusLrRatio: LORAPLUS_DEFAULTS.loraplusLrRatio }),
};

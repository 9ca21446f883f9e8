// From a trial's hyperparameters to the adapters library's variant and its config: the one
// place that knows how sweep knobs map onto each variant's fields.
import type { TrialHyperparams } from '@lora/contracts';
import {
  adaloraVariant,
  deltaLoraVariant,
  doraVariant,
  loraDropVariant,
  loraFaVariant,
  loraPlusVariant,
  loraVariant,
  veraVariant,
  type VariantDefinition,
} from '@lora/adapters';

export interface ResolvedVariant {
  variant: VariantDefinition<object, unknown>;
  config: Record<string, unknown>;
}

/** The variant and config a trial trains. LoRA-drop's `selected` comes from its probe stage. */
export function resolveVariant(hp: TrialHyperparams, extra: { selected?: string[] } = {}): ResolvedVariant {
  const lora = { r: hp.r, alpha: hp.alpha, dropout: hp.dropout, useRslora: hp.rslora };
  const k = hp.knobs as Record<string, never>;
  const as = (variant: unknown, config: Record<string, unknown>): ResolvedVariant => ({
    variant: variant as VariantDefinition<object, unknown>,
    config,
  });
  switch (hp.variant) {
    case 'lora':
      return as(loraVariant, lora);
    case 'dora':
      return as(doraVariant, lora);
    case 'loraplus':
      return as(loraPlusVariant, { ...lora, loraplusLrRatio: k.lrRatio ?? 16 });
    case 'lorafa':
      return as(loraFaVariant, { ...lora, gradientCorrection: k.gradientCorrection ?? true });
    case 'vera':
      return as(veraVariant, { r: hp.r, dropout: hp.dropout, dInitial: k.dInitial ?? 0.1, projectionPrngKey: k.projectionPrngKey ?? 0 });
    case 'deltalora':
      return as(deltaLoraVariant, { ...lora, dropout: 0, lambda: k.lambda ?? 2, startStep: k.startStep ?? 500 });
    case 'adalora':
      return as(adaloraVariant, {
        initR: hp.r,
        targetR: k.targetR ?? 8,
        alpha: hp.alpha,
        dropout: hp.dropout,
        tinit: k.tinit ?? 0,
        tfinal: k.tfinal ?? 0,
        deltaT: k.deltaT ?? 1,
        beta1: k.beta1 ?? 0.85,
        beta2: k.beta2 ?? 0.85,
        orthRegWeight: k.orthRegWeight ?? 0.5,
        totalStep: hp.training.steps,
      });
    case 'loradrop':
      if (!extra.selected) throw new Error('loradrop needs the selected modules from its probe stage');
      return as(loraDropVariant, { ...lora, selected: extra.selected });
  }
}

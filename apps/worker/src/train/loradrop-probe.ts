// LoRA-drop's probe stage, run inside the trial until the queue-level probe → plan flow exists.
import { AdapterSet, computeImportance, loraVariant, selectImportantModules } from '@lora/adapters';
import { loraDropRule, type TrialHyperparams } from '@lora/contracts';
import { train, TrainBatcher, validationBatches, type Gpt2Model } from '@lora/engine';
import type { TrialData } from './trial-data';

/**
 * LoRA-drop's first stage, inside the trial: plain LoRA on every target module for a few steps on
 * a sample of the training data, then importance Σ||B A x||² per module and the selection.
 */
export async function loraDropProbe(model: Gpt2Model, data: TrialData, hp: TrialHyperparams, signal?: AbortSignal) {
  const t = hp.training;
  const k = hp.knobs as { threshold?: number; topN?: number; probeSteps?: number; probeFraction?: number };
  const minTokens = 4 * t.batchSize * (t.seqLen + 1);
  const sample = data.trainTokens.subarray(0, Math.max(minTokens, Math.floor(data.trainTokens.length * (k.probeFraction ?? 0.1))));
  const probe = AdapterSet.attach(model, {
    variant: loraVariant,
    config: { r: hp.r, alpha: hp.alpha, dropout: hp.dropout, useRslora: hp.rslora },
    targetModules: hp.targetModules,
    seed: t.seed,
  });
  try {
    await train({
      model,
      adapters: probe,
      batcher: new TrainBatcher(sample, { batchSize: t.batchSize, seqLen: t.seqLen, seed: t.seed }),
      steps: k.probeSteps ?? 50,
      lr: hp.lr,
      schedule: 'constant',
      clipNorm: t.clipNorm ?? undefined,
      logEvery: k.probeSteps ?? 50,
      signal,
    });
    const batches = validationBatches(sample, { batchSize: t.batchSize, seqLen: t.seqLen, maxBatches: t.evalBatches });
    const importance = await computeImportance(model, probe, batches, { seqLen: t.seqLen });
    const selected = selectImportantModules(importance, loraDropRule(hp.knobs));
    return {
      importance,
      selected,
      probeSteps: k.probeSteps ?? 50,
      probeTokens: sample.length,
      trainableParams: probe.trainableParameterCount(),
    };
  } finally {
    probe.dispose();
  }
}

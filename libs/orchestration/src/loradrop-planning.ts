// LoRA-drop's first stage as trials of its own: one probe per distinct probe configuration (the
// LoRA settings, data and probe knobs that decide importance), shared by every full run that
// only differs in how it selects (threshold / top-n).
import type { TrialHyperparams } from '@lora/contracts';
import type { PlannedTrial } from './sweep-expansion';

export interface PlannedProbe {
  /** Index the probe trial gets (after all the sweep's train trials). */
  index: number;
  hyperparams: TrialHyperparams;
  /** Indexes of the LoRA-drop train trials that wait for this probe's plan. */
  trainIndexes: number[];
}

function probeKey(hp: TrialHyperparams): string {
  const k = hp.knobs as { probeSteps?: number; probeFraction?: number };
  const t = hp.training;
  return JSON.stringify([
    hp.r,
    hp.alpha,
    hp.lr,
    hp.dropout,
    hp.targetModules,
    hp.rslora,
    k.probeSteps,
    k.probeFraction,
    t.batchSize,
    t.seqLen,
    t.seed,
    t.clipNorm,
    t.evalBatches,
  ]);
}

/** The probes a sweep's LoRA-drop trials need; empty when it has none. */
export function planProbes(trials: readonly PlannedTrial[]): PlannedProbe[] {
  const byKey = new Map<string, PlannedProbe>();
  let next = trials.length;
  for (const t of trials) {
    if (t.variant !== 'loradrop') continue;
    const key = probeKey(t.hyperparams);
    let probe = byKey.get(key);
    if (!probe) {
      const k = t.hyperparams.knobs as { probeSteps?: number; probeFraction?: number };
      const steps = k.probeSteps ?? 50;
      probe = {
        index: next++,
        hyperparams: {
          ...t.hyperparams,
          variant: 'lora',
          knobs: { probeSteps: steps, probeFraction: k.probeFraction ?? 0.1 },
          training: { ...t.hyperparams.training, steps, warmupSteps: 0, schedule: 'constant', evalEvery: 0, checkpointEvery: 0 },
        },
        trainIndexes: [],
      };
      byKey.set(key, probe);
    }
    probe.trainIndexes.push(t.index);
  }
  return [...byKey.values()];
}

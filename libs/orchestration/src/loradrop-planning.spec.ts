import { SweepSpecSchema } from '@lora/contracts';
import { planProbes } from './loradrop-planning';
import { expandGrid } from './sweep-expansion';

describe('planProbes', () => {
  it('makes one probe per distinct probe configuration, shared across selection rules', () => {
    const spec = SweepSpecSchema.parse({
      baseModel: 'm',
      dataset: 'd',
      variants: ['lora', 'loradrop'],
      searchSpace: { r: [4, 8], perVariant: { loradrop: { threshold: [0.5, 0.9], probeSteps: [7] } } },
    });
    const trials = expandGrid(spec);
    const probes = planProbes(trials);
    // lora: 2 trials; loradrop: 2 ranks × 2 thresholds = 4 trials → 2 probes (one per rank).
    expect(trials).toHaveLength(6);
    expect(probes).toHaveLength(2);
    expect(probes.map((p) => p.index)).toEqual([6, 7]);
    expect(probes.map((p) => p.trainIndexes)).toEqual([
      [2, 3],
      [4, 5],
    ]);
    expect(probes[0].hyperparams).toMatchObject({ variant: 'lora', r: 4, knobs: { probeSteps: 7, probeFraction: 0.1 } });
    expect(probes[0].hyperparams.training).toMatchObject({ steps: 7, evalEvery: 0, checkpointEvery: 0 });
  });
  it('makes none for a sweep without LoRA-drop', () => {
    const spec = SweepSpecSchema.parse({ baseModel: 'm', dataset: 'd', variants: ['lora'] });
    expect(planProbes(expandGrid(spec))).toEqual([]);
  });
});

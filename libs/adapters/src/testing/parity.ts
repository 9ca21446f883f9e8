// Backend parity: the same training steps of one variant on two tfjs backends, compared step by
// step (loss) and at the end (every trainable adapter weight). Used by the parity spec (cpu vs
// wasm on every machine) and by scripts/backend-parity.ts (any backend vs cpu, e.g. webgpu on
// the accelerator machine).
import * as tf from '@tensorflow/tfjs-core';
import { Gpt2Config, Gpt2Model, HostTensor, Rng, train } from '@lora/engine';
import { AdapterSet } from '../adapter-set';
import type { VariantDefinition } from '../adapter';
import { adaloraVariant } from '../adalora';
import { deltaLoraVariant } from '../deltalora';
import { doraVariant } from '../dora';
import { loraVariant } from '../lora';
import { loraDropVariant } from '../loradrop';
import { loraFaVariant } from '../lorafa';
import { loraPlusVariant } from '../loraplus';
import { veraVariant } from '../vera';

export const PARITY_STEPS = 8;
export const PARITY_BATCH = 8;

/**
 * Every variant with a config that exercises its special paths within PARITY_STEPS steps, and how
 * much faster than the base lr its fastest weights learn (LoRA+'s B: 16x), which scales how far
 * float noise can move them.
 */
export const PARITY_VARIANTS: Array<[string, VariantDefinition<object, unknown>, object, number?]> = [
  ['lora', loraVariant as never, { r: 4, alpha: 8 }],
  ['loraplus', loraPlusVariant as never, { r: 4, alpha: 8 }, 16],
  ['lorafa', loraFaVariant as never, { r: 4, alpha: 8 }],
  ['dora', doraVariant as never, { r: 4, alpha: 8 }],
  ['vera', veraVariant as never, { r: 8 }],
  ['adalora', adaloraVariant as never, { initR: 6, targetR: 3, totalStep: PARITY_STEPS, tinit: 2, tfinal: 2, deltaT: 1 }],
  ['deltalora', deltaLoraVariant as never, { r: 4, alpha: 8, startStep: 2 }],
  ['loradrop', loraDropVariant as never, { r: 4, alpha: 8, selected: ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_proj'] }],
];

// 8 × 16 = 128 tokens and d 128: the projections are tile-aligned, so webgpu's tiled matmul runs.
export const PARITY_CONFIG: Gpt2Config = {
  vocabSize: 64,
  nPositions: 16,
  nEmbd: 128,
  nLayer: 2,
  nHead: 4,
  layerNormEpsilon: 1e-5,
  activation: 'gelu_new',
  tieWordEmbeddings: true,
};

/** The model and batch of a parity run (default PARITY_CONFIG and PARITY_BATCH). */
export interface ParityShape {
  model?: Gpt2Config;
  batch?: number;
}

export interface ParityRun {
  losses: number[];
  weights: Map<string, Float32Array>;
}

function hostWeights(model: Gpt2Model): Promise<Map<string, HostTensor>> {
  return model.exportWeights();
}

/** Runs PARITY_STEPS steps of `variant` on the current backend from fixed weights and data. */
export async function parityRun(
  variant: VariantDefinition<object, unknown>,
  config: object,
  weights?: Map<string, HostTensor>,
  shape: ParityShape = {},
): Promise<ParityRun> {
  const c = shape.model ?? PARITY_CONFIG;
  const batchSize = shape.batch ?? PARITY_BATCH;
  const model = weights ? Gpt2Model.fromWeights(c, weights) : Gpt2Model.random(c, { seed: 3 });
  const adapters = AdapterSet.attach(model, { targetModules: ['c_attn', 'c_proj', 'c_fc'], variant, config, seed: 5 });
  const rng = new Rng(7);
  const batches = Array.from({ length: PARITY_STEPS }, () => {
    const n = batchSize * c.nPositions;
    return {
      inputs: Int32Array.from({ length: n }, () => rng.int(c.vocabSize)),
      targets: Int32Array.from({ length: n }, () => rng.int(c.vocabSize)),
    };
  });
  let i = 0;
  const batcher = { next: () => batches[i++], getState: () => ({ batchSize, seqLen: c.nPositions }) };
  const losses: number[] = [];
  try {
    await train({ model, adapters, batcher, steps: PARITY_STEPS, lr: 2e-3, logEvery: 1 }, { onLog: (e) => void losses.push(e.loss) });
    const out = new Map<string, Float32Array>();
    for (const [name, v] of adapters.namedTrainableVariables()) out.set(name, (await v.data()) as Float32Array);
    return { losses, weights: out };
  } finally {
    adapters.dispose();
    model.dispose();
  }
}

// float32 with different summation orders, through 8 Adam steps at lr 2e-3.
export const LOSS_RTOL = 1e-4;
// Adam turns float noise in near-zero gradients into lr-sized steps: weights get a looser bound,
// scaled by how much faster than the base lr a variant's fastest weights learn.
export const weightTolerance = (maxWeight: number, lrRatio = 1) => lrRatio * (2e-3 * maxWeight + 1e-5);

/** Whether a report is within tolerance. */
export function parityOk(r: ParityReport, lrRatio = 1): boolean {
  return r.maxLossRelDiff <= LOSS_RTOL && r.maxWeightDiff <= weightTolerance(r.maxWeight, lrRatio);
}

export interface ParityReport {
  variant: string;
  maxLossRelDiff: number;
  maxWeightDiff: number;
  maxWeight: number;
}

/**
 * Runs one variant on `reference` then on `candidate` (both already initialised backends, e.g.
 * 'cpu' and 'webgpu'), from the same host weights, and returns the largest differences.
 */
export async function compareBackends(
  name: string,
  variant: VariantDefinition<object, unknown>,
  config: object,
  reference: string,
  candidate: string,
  shape: ParityShape = {},
): Promise<ParityReport> {
  await tf.setBackend(reference);
  const seedModel = Gpt2Model.random(shape.model ?? PARITY_CONFIG, { seed: 3 });
  const weights = await hostWeights(seedModel);
  seedModel.dispose();
  const a = await parityRun(variant, config, weights, shape);
  await tf.setBackend(candidate);
  const b = await parityRun(variant, config, weights, shape);
  if (a.losses.length !== b.losses.length) throw new Error(`${name}: ${a.losses.length} vs ${b.losses.length} logged steps`);
  let maxLossRelDiff = 0;
  a.losses.forEach((l, k) => (maxLossRelDiff = Math.max(maxLossRelDiff, Math.abs(l - b.losses[k]) / Math.abs(l))));
  let maxWeightDiff = 0;
  let maxWeight = 0;
  for (const [key, wa] of a.weights) {
    const wb = b.weights.get(key);
    if (!wb || wb.length !== wa.length) throw new Error(`${name}: weight ${key} missing or reshaped on ${candidate}`);
    for (let k = 0; k < wa.length; k++) {
      maxWeightDiff = Math.max(maxWeightDiff, Math.abs(wa[k] - wb[k]));
      maxWeight = Math.max(maxWeight, Math.abs(wa[k]));
    }
  }
  return { variant: name, maxLossRelDiff, maxWeightDiff, maxWeight };
}

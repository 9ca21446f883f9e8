// Shared by the adapter specs (not part of the package API): tiny batches, logits and comparisons.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, train, type BatchSource, type Gpt2Model, type ModelAdapters } from '@lora/engine';
import type { AdapterSet } from '../adapter-set';
import { tokens } from '../../../engine/src/testing/tiny-model';

export const B = 2;
export const T = 4;
export const VOCAB = 13;

export function inputs(seed = 1): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(tokens(B * T, VOCAB, seed), [B, T], 'int32'), tf.tensor2d(tokens(B * T, VOCAB, seed + 100), [B, T], 'int32')];
}

export function batcher(seed = 3): BatchSource {
  const batch = { inputs: tokens(B * T, VOCAB, seed), targets: tokens(B * T, VOCAB, seed + 1) };
  return { next: () => batch, getState: () => ({ batchSize: B, seqLen: T }) };
}

export async function logits(model: Gpt2Model, x: tf.Tensor2D, adapters?: ModelAdapters): Promise<Float32Array> {
  const y = model.forward(x, { adapters });
  const data = Float32Array.from((await y.data()) as Float32Array);
  y.dispose();
  return data;
}

/** Logits on the fixed tokens (seed 9) that several specs compare across adapter states. */
export async function fixedLogits(model: Gpt2Model, adapters?: ModelAdapters): Promise<Float32Array> {
  const x = tf.tensor2d(tokens(B * T, VOCAB, 9), [B, T], 'int32');
  const data = await logits(model, x, adapters);
  x.dispose();
  return data;
}

export async function values(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from((await t.data()) as Float32Array);
}

export function identical(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export { maxDiff } from '../../../engine/src/testing/compare';

/** Host copies of every base weight, to prove they stay bit-identical. */
export async function snapshotWeights(model: Gpt2Model): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const name of model.weightNames()) out.set(name, await values(model.weight(name)));
  return out;
}

/** Trains a few steps; returns the live tensor count at each logged step and the final loss. */
export async function trainSteps(model: Gpt2Model, set: AdapterSet, steps: number, lr = 2e-2): Promise<{ counts: number[]; loss: number }> {
  const counts: number[] = [];
  const result = await train(
    { model, adapters: set, batcher: batcher(), steps, lr, logEvery: 1 },
    { onLog: ({ step }) => void (counts[step] = tf.memory().numTensors) },
  );
  return { counts, loss: result.finalTrainLoss };
}

export async function onBackend<R>(backend: 'cpu' | 'wasm', f: () => Promise<R>): Promise<R> {
  await initBackend(backend);
  return f();
}

// Exact held-out loss: mean token NLL (nats) over every target token of the given batches.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapters } from './adapter-hooks';
import type { Gpt2Model } from './gpt2';
import type { Batch } from './io/batches';

export interface EvaluateOptions {
  /** Row length of the batches; default the model's n_positions when it divides the batch. */
  seqLen?: number;
}

export function batchShape(batch: Batch, seqLen: number, who: string): [number, number] {
  const n = batch.inputs.length;
  if (n === 0 || n % seqLen !== 0 || batch.targets.length !== n) {
    throw new Error(`${who}: batch of ${n} inputs / ${batch.targets.length} targets is not a whole number of rows of seqLen ${seqLen}`);
  }
  return [n / seqLen, seqLen];
}

/** Mean token NLL in nats; sums per batch on device, accumulates in float64 on the host. */
export async function evaluate(
  model: Gpt2Model,
  batches: readonly Batch[],
  adapters?: ModelAdapters,
  options: EvaluateOptions = {},
): Promise<number> {
  if (batches.length === 0) throw new Error('evaluate: no validation batches');
  const seqLen = options.seqLen ?? model.config.nPositions;
  let total = 0;
  let count = 0;
  for (const batch of batches) {
    const shape = batchShape(batch, seqLen, 'evaluate');
    const nll = tf.tidy(() =>
      model.nllSum(tf.tensor2d(batch.inputs, shape, 'int32'), tf.tensor2d(batch.targets, shape, 'int32'), { adapters, training: false }),
    );
    total += (await nll.data())[0];
    nll.dispose();
    count += batch.targets.length;
  }
  return total / count;
}

import * as tf from '@tensorflow/tfjs-core';
import type { AdamState } from './adam';
import { initBackend } from './backend';
import { evaluate } from './evaluate';
import type { Batch } from './io/batches';
import { DivergedError, learningRate, train, type BatchSource } from './train';
import { tinyModel } from './testing/tiny-model';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Always the same batch: a short repeated pattern the model can memorise. */
function repeatedBatcher(batchSize = 2, seqLen = 8): BatchSource & { batch: Batch } {
  const pattern = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const inputs = new Int32Array(batchSize * seqLen);
  const targets = new Int32Array(batchSize * seqLen);
  for (let r = 0; r < batchSize; r++) {
    for (let t = 0; t < seqLen; t++) {
      inputs[r * seqLen + t] = pattern[(r + t) % pattern.length];
      targets[r * seqLen + t] = pattern[(r + t + 1) % pattern.length];
    }
  }
  const batch = { inputs, targets };
  return { batch, next: () => batch, getState: () => ({ batchSize, seqLen }) };
}

describe('learningRate', () => {
  it('warms up linearly, then follows a cosine to minLrRatio · lr, or stays constant', () => {
    const o = { lr: 1, steps: 110, warmupSteps: 10, minLrRatio: 0.1 };
    expect(learningRate(5, o)).toBeCloseTo(0.5);
    expect(learningRate(10, o)).toBeCloseTo(1);
    expect(learningRate(60, o)).toBeCloseTo(0.55);
    expect(learningRate(110, o)).toBeCloseTo(0.1);
    expect(learningRate(60, { ...o, schedule: 'constant' })).toBe(1);
  });
});

describe('train (pretraining mode)', () => {
  it('lowers the loss on a tiny repeated sequence', async () => {
    const model = tinyModel(1, {}, true);
    const batcher = repeatedBatcher();
    const before = await evaluate(model, [batcher.batch], undefined, { seqLen: 8 });
    const result = await train({ model, batcher, steps: 40, lr: 1e-2, logEvery: 40, clipNorm: 1 });
    expect(result.steps).toBe(40);
    expect(result.finalTrainLoss).toBeLessThan(before * 0.5);
    model.dispose();
  });

  it('stops with DivergedError at the first log step whose loss is not finite', async () => {
    const model = tinyModel(1, {}, true);
    const w = model.weight('ln_f.weight');
    w.assign(tf.fill(w.shape, NaN));
    const err = await train({ model, batcher: repeatedBatcher(), steps: 20, lr: 1e-2, logEvery: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(DivergedError);
    expect(err).toMatchObject({ step: 5 });
    expect(Number.isNaN(err.loss)).toBe(true);
    expect(err.message).toMatch(/loss is NaN at step 5/);
    model.dispose();
  });

  it('keeps the number of live tensors constant across steps', async () => {
    const model = tinyModel(2, {}, true);
    const counts: number[] = [];
    await train(
      { model, batcher: repeatedBatcher(), steps: 5, lr: 1e-3, logEvery: 1, clipNorm: 1 },
      { onLog: ({ step }) => void (counts[step] = tf.memory().numTensors) },
    );
    expect(counts[5]).toBe(counts[2]);
    model.dispose();
  });

  it('reads the loss only at log steps, evaluates and checkpoints on schedule, and stops on abort', async () => {
    const model = tinyModel(3, {}, true);
    const batcher = repeatedBatcher();
    const controller = new AbortController();
    const logs: number[] = [];
    const evals: number[] = [];
    const checkpoints: [number, boolean][] = [];
    const result = await train(
      {
        model,
        batcher,
        validation: [batcher.batch],
        validationSeqLen: 8,
        steps: 20,
        lr: 1e-3,
        logEvery: 2,
        evalEvery: 3,
        checkpointEvery: 4,
        signal: controller.signal,
      },
      {
        onLog: ({ step }) => {
          logs.push(step);
          if (step === 6) controller.abort();
        },
        onEval: ({ step }) => void evals.push(step),
        onCheckpoint: ({ step, final }) => void checkpoints.push([step, final]),
      },
    );
    expect(result.aborted).toBe(true);
    expect(result.steps).toBe(6);
    expect(logs).toEqual([2, 4, 6]);
    expect(evals).toEqual([3, 6]);
    expect(checkpoints).toEqual([
      [4, false],
      [6, true],
    ]);
    expect(result.finalEvalLoss).toBeGreaterThan(0);
    model.dispose();
  });

  it('resumes from a step and an optimizer state', async () => {
    const a = tinyModel(4, {}, true);
    let state: AdamState | undefined;
    const full = await train(
      { model: a, batcher: repeatedBatcher(), steps: 6, lr: 1e-2, warmupSteps: 2, checkpointEvery: 3 },
      {
        onCheckpoint: async (e) => {
          if (e.step === 3) state = await e.optimizerState();
        },
      },
    );
    const b = tinyModel(4, {}, true);
    const stop = new AbortController();
    const cut = await train(
      { model: b, batcher: repeatedBatcher(), steps: 6, lr: 1e-2, warmupSteps: 2, logEvery: 1, signal: stop.signal },
      {
        onLog: ({ step }) => void (step === 3 && stop.abort()),
      },
    );
    expect(cut.steps).toBe(3);
    // Same weights at step 3 (same data and schedule), so resuming with the moments saved by
    // the uninterrupted run must land on its final loss.
    const resumed = await train({
      model: b,
      batcher: repeatedBatcher(),
      steps: 6,
      lr: 1e-2,
      warmupSteps: 2,
      startStep: 3,
      optimizerState: state,
    });
    expect(resumed.steps).toBe(6);
    expect(resumed.finalTrainLoss).toBeCloseTo(full.finalTrainLoss, 5);
    a.dispose();
    b.dispose();
  });
});

describe('evaluate', () => {
  it('is the exact mean token NLL over all batches', async () => {
    const model = tinyModel(5);
    const b1 = repeatedBatcher(2, 4).batch;
    const b2 = repeatedBatcher(1, 4).batch;
    const nll = async (b: Batch, rows: number) => {
      const l = model.loss(tf.tensor2d(b.inputs, [rows, 4], 'int32'), tf.tensor2d(b.targets, [rows, 4], 'int32'));
      return (await l.data())[0];
    };
    const expected = ((await nll(b1, 2)) * 8 + (await nll(b2, 1)) * 4) / 12;
    expect(await evaluate(model, [b1, b2], undefined, { seqLen: 4 })).toBeCloseTo(expected, 5);
    model.dispose();
  });
});

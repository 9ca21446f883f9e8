// The causal-LM training loop: Adam over the adapters' variables (adapter training) or the whole
// model's (pretraining), warmup + cosine/constant LR, optional global-norm clipping. The step
// stays on device; the loss is read only at log steps, and callbacks run between steps.
import * as tf from '@tensorflow/tfjs-core';
import { Adam, AdamOptions, AdamState, clipByGlobalNorm } from './adam';
import type { ParamGroup, TrainableAdapters } from './adapter-hooks';
import { batchShape, evaluate } from './evaluate';
import type { Gpt2Model } from './gpt2';
import type { Batch } from './io/batches';

export type LrSchedule = 'cosine' | 'constant';

export interface BatchSource {
  next(): Batch;
  getState(): { batchSize: number; seqLen: number };
}

export interface TrainOptions {
  model: Gpt2Model;
  /** Train these adapters over a frozen base; without them the whole model trains (pretraining). */
  adapters?: TrainableAdapters;
  batcher: BatchSource;
  validation?: readonly Batch[];
  /** Row length of the validation batches (default: the batcher's seqLen). */
  validationSeqLen?: number;
  /** Last step number (steps run from startStep + 1 to steps). */
  steps: number;
  lr: number;
  warmupSteps?: number;
  schedule?: LrSchedule;
  /** Cosine floor as a fraction of lr (default 0.1). */
  minLrRatio?: number;
  clipNorm?: number;
  logEvery?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  /** Recorded for the run; data order and init come from the batcher's and adapters' seeds. */
  seed?: number;
  signal?: AbortSignal;
  startStep?: number;
  optimizerState?: AdamState;
  /** Adam's betas and epsilon; `weightDecay` makes it AdamW for groups that set none. */
  adam?: AdamOptions;
}

export interface LogEvent {
  step: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  elapsedMs: number;
}

export interface CheckpointEvent {
  step: number;
  /** True for the checkpoint taken when the loop ends (last step or abort). */
  final: boolean;
  adapters?: TrainableAdapters;
  model: Gpt2Model;
  /** Reads Adam's moments (async; only when a resume needs them). */
  optimizerState(): Promise<AdamState>;
}

export interface TrainCallbacks {
  onLog?(e: LogEvent): void | Promise<void>;
  onEval?(e: { step: number; evalLoss: number }): void | Promise<void>;
  onCheckpoint?(e: CheckpointEvent): void | Promise<void>;
}

/** The training loss became NaN or ±Inf (seen at a log step). */
export class DivergedError extends Error {
  override name = 'DivergedError';
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`training diverged: loss is ${loss} at step ${step} (lower the learning rate or enable clipNorm)`);
  }
}

export interface TrainResult {
  /** Last step run. */
  steps: number;
  finalTrainLoss: number;
  finalEvalLoss: number | null;
  /** Training throughput: evaluation and callback time left out. */
  tokensPerSec: number;
  /** Wall time of the whole call, evaluations and callbacks included. */
  wallMs: number;
  aborted: boolean;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** LR at 1-based `step`: linear warmup to `lr`, then cosine down to `minLrRatio · lr` at `steps` (or flat). */
export function learningRate(step: number, o: Pick<TrainOptions, 'lr' | 'steps' | 'warmupSteps' | 'schedule' | 'minLrRatio'>): number {
  const warmup = o.warmupSteps ?? 0;
  if (step <= warmup) return (o.lr * step) / warmup;
  if ((o.schedule ?? 'cosine') === 'constant') return o.lr;
  const minLr = o.lr * (o.minLrRatio ?? 0.1);
  const progress = Math.min(1, (step - warmup) / Math.max(1, o.steps - warmup));
  return minLr + 0.5 * (o.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}

function checkOptions(o: TrainOptions): void {
  const positive = (k: keyof TrainOptions) => {
    const v = o[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v > 0))
      throw new Error(`train: ${k} must be a positive integer (got ${String(v)})`);
  };
  (['steps', 'logEvery', 'evalEvery', 'checkpointEvery'] as const).forEach(positive);
  if (!(o.lr > 0)) throw new Error(`train: lr must be positive (got ${o.lr})`);
  if (o.clipNorm !== undefined && !(o.clipNorm > 0)) throw new Error(`train: clipNorm must be positive (got ${o.clipNorm})`);
}

export async function train(options: TrainOptions, callbacks: TrainCallbacks = {}): Promise<TrainResult> {
  checkOptions(options);
  const { model, adapters, batcher, steps } = options;
  const startStep = options.startStep ?? 0;
  const logEvery = options.logEvery ?? 10;
  const { batchSize, seqLen } = batcher.getState();
  const valSeqLen = options.validationSeqLen ?? seqLen;

  const groups: ParamGroup[] = adapters
    ? (adapters.paramGroups?.() ?? [{ name: 'adapters', variables: adapters.namedTrainableVariables(), lrScale: 1 }])
    : [{ name: 'model', variables: model.namedTrainableVariables(), lrScale: 1 }];
  const named = groups.flatMap((g) => g.variables);
  if (named.length === 0) throw new Error('train: nothing to train (no trainable variables; unfreeze the model or attach adapters)');
  const nameOf = new Map(named.map(([n, v]) => [v.name, n]));
  const varList = named.map(([, v]) => v);

  const optimizer = new Adam(groups, options.adam);
  if (options.optimizerState) optimizer.setState(options.optimizerState);

  const t0 = performance.now();
  let lastLogTime = t0;
  // Time in evaluation and callbacks, left out of tokens/s (pausedMs: since the last log).
  let pausedMs = 0;
  let totalPausedMs = 0;
  const paused = async (f: () => unknown): Promise<void> => {
    const start = performance.now();
    await f();
    const d = performance.now() - start;
    pausedMs += d;
    totalPausedMs += d;
  };
  let lastLogStep = startStep;
  let lastLoss: tf.Scalar | null = null;
  let finalTrainLoss = NaN;
  let finalEvalLoss: number | null = null;
  let evaluatedAt = -1;
  let checkpointedAt = startStep;
  let step = startStep;
  let aborted = false;

  // Host work an adapter's afterStep deferred (AdaLoRA's budget reads its scores with `await
  // data()`): awaited before the next step, so the step itself never reads the device.
  const pending: { work?: Promise<void> } = {};
  const runStep = (batch: Batch, lr: number, s: number): tf.Scalar =>
    tf.tidy(() => {
      const shape = batchShape(batch, seqLen, 'train');
      const inputs = tf.tensor2d(batch.inputs, shape, 'int32');
      const targets = tf.tensor2d(batch.targets, shape, 'int32');
      const { value, grads: raw } = tf.variableGrads(() => {
        const loss = model.loss(inputs, targets, { adapters, training: true });
        const reg = adapters?.regularizer?.();
        return reg ? tf.add(loss, reg) : loss;
      }, varList);
      let grads: Record<string, tf.Tensor> = {};
      for (const [tfName, g] of Object.entries(raw)) grads[nameOf.get(tfName)!] = g;
      // Clip first, then rewrite: PEFT's LoRA-FA corrects the already clipped gradient in its step.
      if (options.clipNorm !== undefined) grads = clipByGlobalNorm(grads, options.clipNorm);
      if (adapters?.transformGradients) grads = adapters.transformGradients(grads, s);
      adapters?.beforeStep?.(s);
      optimizer.apply(grads, lr);
      const after = adapters?.afterStep?.({ step: s, lr, grads });
      if (after instanceof Promise) pending.work = after;
      return value;
    });

  try {
    while (step < steps) {
      // Let the host deliver an abort (a message event is a macrotask; awaiting tensor reads on
      // CPU backends only runs microtasks, so without this the signal is seen late).
      if (options.signal) await yieldToEventLoop();
      if (options.signal?.aborted) {
        aborted = true;
        break;
      }
      step++;
      const lr = learningRate(step, options);
      const loss = runStep(batcher.next(), lr, step);
      if (pending.work) {
        const work = pending.work;
        pending.work = undefined;
        await work;
      }
      lastLoss?.dispose();
      lastLoss = loss;

      if (step % logEvery === 0 || step === steps) {
        finalTrainLoss = (await loss.data())[0];
        // A NaN/Inf loss never recovers: stop here with the step it was seen at.
        if (!Number.isFinite(finalTrainLoss)) throw new DivergedError(step, finalTrainLoss);
        const now = performance.now();
        const tokensPerSec = ((step - lastLogStep) * batchSize * seqLen * 1000) / Math.max(1e-9, now - lastLogTime - pausedMs);
        lastLogTime = now;
        lastLogStep = step;
        pausedMs = 0;
        await paused(() => callbacks.onLog?.({ step, loss: finalTrainLoss, lr, tokensPerSec, elapsedMs: now - t0 }));
      }
      if (options.validation && options.evalEvery && step % options.evalEvery === 0) {
        await paused(async () => {
          finalEvalLoss = await evaluate(model, options.validation!, adapters, { seqLen: valSeqLen });
          evaluatedAt = step;
          await callbacks.onEval?.({ step, evalLoss: finalEvalLoss });
        });
      }
      if (options.checkpointEvery && step % options.checkpointEvery === 0) {
        checkpointedAt = step;
        await paused(() => callbacks.onCheckpoint?.({ step, final: false, adapters, model, optimizerState: () => optimizer.getState() }));
      }
    }
    if (lastLoss && (Number.isNaN(finalTrainLoss) || lastLogStep !== step)) finalTrainLoss = (await lastLoss.data())[0];
    if (options.validation && evaluatedAt !== step && step > startStep) {
      await paused(async () => {
        finalEvalLoss = await evaluate(model, options.validation!, adapters, { seqLen: valSeqLen });
        await callbacks.onEval?.({ step, evalLoss: finalEvalLoss });
      });
    }
    if (options.checkpointEvery && checkpointedAt !== step) {
      await paused(() => callbacks.onCheckpoint?.({ step, final: true, adapters, model, optimizerState: () => optimizer.getState() }));
    }
    const wallMs = performance.now() - t0;
    return {
      steps: step,
      finalTrainLoss,
      finalEvalLoss,
      tokensPerSec: ((step - startStep) * batchSize * seqLen * 1000) / Math.max(1e-9, wallMs - totalPausedMs),
      wallMs,
      aborted,
    };
  } finally {
    lastLoss?.dispose();
    optimizer.dispose();
  }
}

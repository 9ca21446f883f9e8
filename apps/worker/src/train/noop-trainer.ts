// WORKER_TRAINER=noop: the dispatch benchmark's stand-in for the training thread (benchmarks only;
// the config refuses it with NODE_ENV=production and the worker logs a warning at start).
// It answers with the thread's own messages (ready, one step's metrics, done) through the same
// handler, so a job takes the whole real processor path (attempt row, concurrency lease, trial and
// sweep status, metric and log writes, live events, job progress) and only the tensors are
// skipped: what bench/dispatch.bench.ts measures is the orchestrator's overhead per trial.
import type { TrainThreadInput, TrainThreadMessage } from './train-thread.protocol';

export async function runNoopTrainer(input: TrainThreadInput, onMessage: (m: TrainThreadMessage) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  const steps = input.hyperparams.training.steps;
  await onMessage({
    type: 'ready',
    backend: 'noop',
    device: 'none (WORKER_TRAINER=noop)',
    trainableParams: 0,
    baselineEvalLoss: null,
    trainTokens: 0,
    validationTokens: 0,
  });
  // One step's metrics, recorded at the last step so the attempt counts as complete.
  await onMessage({ type: 'log', step: steps, loss: 0, lr: input.hyperparams.lr, tokensPerSec: 0 });
  await onMessage({ type: 'done', steps, finalTrainLoss: 0, finalEvalLoss: null, tokensPerSec: 0, wallMs: performance.now() - t0 });
}

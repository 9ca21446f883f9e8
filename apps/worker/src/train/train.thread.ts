// The training thread: loads the base model and data, attaches the trial's adapters, trains,
// and posts metrics and checkpoints to the parent. Runs off the worker's event loop so BullMQ
// keeps renewing the job lock while tensors crunch.
import { parentPort, workerData } from 'node:worker_threads';
import { AdapterSet, adaloraAllocator } from '@lora/adapters';
import {
  captureVariables,
  decodeResumeState,
  DivergedError,
  encodeResumeState,
  evaluate,
  initBackend,
  loadHfModel,
  restoreVariables,
  train,
  type ResumeState,
} from '@lora/engine';
import { loraDropProbe } from './loradrop-probe';
import { prepareTrialData } from './trial-data';
import type { AbortKind, TrainThreadCommand, TrainThreadInput, TrainThreadMessage } from './train-thread.protocol';
import { resolveVariant } from './variant-config';

const port = parentPort!;
const input = workerData as TrainThreadInput;
const abort = new AbortController();
let abortKind: AbortKind | null = null;
let verdict: ((c: Extract<TrainThreadCommand, { type: 'verdict' }>) => void) | null = null;
port.on('message', (c: TrainThreadCommand) => {
  if (c.type === 'abort') {
    abortKind = c.kind;
    abort.abort(c.reason);
  }
  if (c.type === 'verdict') verdict?.(c);
});
const post = (m: TrainThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

class ConfigProblem extends Error {}

/**
 * Variants whose whole training state is their trainable variables (plus optimizer and data
 * position) resume exactly from a checkpoint. AdaLoRA (its allocator's importance averages and
 * masks) and Delta-LoRA (its updates folded into the base weights) carry more: they restart.
 */
const RESUMABLE = new Set(['lora', 'loraplus', 'vera', 'lorafa', 'loradrop', 'dora']);

async function main(): Promise<void> {
  const hp = input.hyperparams;
  const t = hp.training;
  // Where the time to the first step goes (bench/first-step.bench.ts reads it from the worker's log).
  let mark = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = now - mark;
    mark = now;
    return Math.round(ms * 10) / 10;
  };
  const backend = await initBackend(input.backend, { wasmThreads: input.wasmThreads ?? 'auto' });
  const backendMs = lap();
  let loaded;
  try {
    loaded = await loadHfModel(input.modelDir);
  } catch (e) {
    throw new ConfigProblem(`cannot load base model ${input.modelName} from ${input.modelDir}: ${(e as Error).message}`);
  }
  const { model, tokenizer } = loaded;
  if (t.seqLen > model.config.nPositions)
    throw new ConfigProblem(`training.seqLen ${t.seqLen} exceeds the model's ${model.config.nPositions} positions`);
  const modelLoadMs = lap();
  const data = await prepareTrialData(input, tokenizer);
  const dataMs = lap();
  const records: Record<string, unknown> = {};
  let selected: string[] | undefined = input.selected;
  if (input.kind === 'probe') {
    // LoRA-drop's probe trial: importance only; its plan job selects and enqueues the full runs.
    const t0 = performance.now();
    const probe = await loraDropProbe(model, data, hp, abort.signal);
    post({ type: 'probe', importance: probe.importance, selected: probe.selected, trainableParams: probe.trainableParams });
    const wallMs = performance.now() - t0;
    post({
      type: 'done',
      steps: probe.probeSteps,
      finalTrainLoss: NaN,
      finalEvalLoss: null,
      tokensPerSec: (probe.probeSteps * t.batchSize * t.seqLen * 1000) / wallMs,
      wallMs,
    });
    model.dispose();
    return;
  }
  if (hp.variant === 'loradrop' && !selected) {
    const probe = await loraDropProbe(model, data, hp, abort.signal);
    post({ type: 'probe', importance: probe.importance, selected: probe.selected, trainableParams: probe.trainableParams });
    selected = probe.selected;
    records.loradrop = probe;
  }
  let adapters: AdapterSet;
  try {
    const { variant, config } = resolveVariant(hp, { selected });
    adapters = AdapterSet.attach(model, {
      variant,
      config,
      targetModules: hp.targetModules,
      seed: t.seed,
      baseModelNameOrPath: input.modelName,
    });
  } catch (e) {
    throw new ConfigProblem((e as Error).message);
  }
  const variantRecords = () =>
    hp.variant === 'adalora' ? { ...records, adalora: { rankHistory: adaloraAllocator(adapters).rankHistory() } } : records;
  let resume: ResumeState | null = null;
  if (input.resume) {
    if (!RESUMABLE.has(hp.variant)) throw new ConfigProblem(`variant ${hp.variant} cannot resume from a checkpoint`);
    resume = decodeResumeState(input.resume.state);
    restoreVariables(adapters.namedTrainableVariables(), resume.variables);
    data.batcher.setState(resume.batcher);
  }
  const attachMs = lap();
  const baseline = resume ? null : await evaluate(model, data.validation, adapters, { seqLen: t.seqLen });
  const baselineEvalMs = lap();
  post({
    type: 'ready',
    backend: backend.backend,
    device: backend.device,
    trainableParams: adapters.trainableParameterCount(),
    baselineEvalLoss: baseline,
    trainTokens: data.trainTokens.length,
    validationTokens: data.validationTokens.length,
    phasesMs: { backend: backendMs, modelLoad: modelLoadMs, data: dataMs, attach: attachMs, baselineEval: baselineEvalMs },
  });

  // AdaLoRA: stream each budget step's ranks to the parent as they happen (the rank-budget history).
  let ranksSent = 0;
  const sendNewRanks = () => {
    if (hp.variant !== 'adalora') return;
    const history = adaloraAllocator(adapters).rankHistory();
    if (history.length > ranksSent) post({ type: 'ranks', records: history.slice(ranksSent) });
    ranksSent = history.length;
  };

  let lastEval: number | undefined;
  const result = await train(
    {
      model,
      adapters,
      batcher: data.batcher,
      validation: data.validation,
      validationSeqLen: t.seqLen,
      steps: t.steps,
      lr: hp.lr,
      warmupSteps: t.warmupSteps,
      schedule: t.schedule,
      clipNorm: t.clipNorm ?? undefined,
      logEvery: t.logEvery,
      // The final step is always evaluated and checkpointed.
      evalEvery: t.evalEvery > 0 ? t.evalEvery : t.steps,
      checkpointEvery: t.checkpointEvery > 0 ? t.checkpointEvery : t.steps,
      seed: t.seed,
      signal: abort.signal,
      startStep: resume?.step,
      optimizerState: resume?.optimizer,
    },
    {
      onLog: (e) => {
        post({ type: 'log', step: e.step, loss: e.loss, lr: e.lr, tokensPerSec: e.tokensPerSec });
        sendNewRanks();
      },
      onEval: async (e) => {
        lastEval = e.evalLoss;
        post({ type: 'eval', step: e.step, evalLoss: e.evalLoss });
        if (input.awaitVerdict && e.step < t.steps) {
          // Early stopping judges every eval against the sweep before training goes on.
          const v = await new Promise<Extract<TrainThreadCommand, { type: 'verdict' }>>((resolve) => (verdict = resolve));
          verdict = null;
          if (v.stop) abort.abort(v.reason ?? 'pruned');
        }
      },
      onCheckpoint: async (e) => {
        sendNewRanks();
        const peft = await adapters.exportPeft();
        const bytes = peft.safetensors;
        // A preempted run's last checkpoint is where the next attempt goes on, not the end.
        const isFinal = e.step === t.steps || (e.final && abortKind !== 'preempt');
        const resumeState =
          !isFinal && RESUMABLE.has(hp.variant)
            ? encodeResumeState({
                step: e.step,
                variables: await captureVariables(adapters.namedTrainableVariables()),
                optimizer: await e.optimizerState(),
                batcher: data.batcher.getState(),
              })
            : undefined;
        post(
          {
            type: 'checkpoint',
            step: e.step,
            isFinal,
            adapterConfig: peft.adapterConfig,
            safetensors: bytes,
            metrics: { evalLoss: lastEval, ...variantRecords() },
            resumeState,
          },
          [bytes.buffer as ArrayBuffer, ...(resumeState ? [resumeState.buffer as ArrayBuffer] : [])],
        );
      },
    },
  );
  post({
    type: 'done',
    steps: result.steps,
    finalTrainLoss: result.finalTrainLoss,
    finalEvalLoss: result.finalEvalLoss ?? (await evaluate(model, data.validation, adapters, { seqLen: t.seqLen })),
    tokensPerSec: result.tokensPerSec,
    wallMs: result.wallMs,
  });
  adapters.dispose();
  model.dispose();
}

// The parent terminates this thread once it has handled 'done' or 'error'.
// A config problem or a diverged run fails the trial at once: retrying cannot help either.
main().catch((e: Error) =>
  post({ type: 'error', message: e.message, stack: e.stack, unrecoverable: e instanceof ConfigProblem || e instanceof DivergedError }),
);

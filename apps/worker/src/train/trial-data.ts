// What a trial trains and evaluates on, built identically wherever it is needed (the training
// thread, and anyone re-checking a stored checkpoint): the base model, the split, the batches.
import type { TrialHyperparams } from '@lora/contracts';
import { AdapterSet } from '@lora/adapters';
import {
  evaluate,
  initBackend,
  type BackendPreference,
  loadCorpus,
  loadHfModel,
  splitDocuments,
  tokenizeDocuments,
  TrainBatcher,
  validationBatches,
  type LoadedHfModel,
  type Tokenizer,
} from '@lora/engine';

export interface TrialDataSpec {
  datasetSource: string;
  validationFraction: number;
  splitSeed: number;
  hyperparams: TrialHyperparams;
}

export interface TrialData {
  trainTokens: Int32Array;
  validationTokens: Int32Array;
  batcher: TrainBatcher;
  validation: ReturnType<typeof validationBatches>;
}

export async function prepareTrialData(spec: TrialDataSpec, tokenizer: Tokenizer): Promise<TrialData> {
  const docs = await loadCorpus(spec.datasetSource);
  const split = splitDocuments(docs, { validationFraction: spec.validationFraction, seed: spec.splitSeed });
  const trainTokens = tokenizeDocuments(split.train, tokenizer);
  const validationTokens = tokenizeDocuments(split.validation, tokenizer);
  const t = spec.hyperparams.training;
  return {
    trainTokens,
    validationTokens,
    batcher: new TrainBatcher(trainTokens, { batchSize: t.batchSize, seqLen: t.seqLen, seed: t.seed }),
    validation: validationBatches(validationTokens, { batchSize: t.batchSize, seqLen: t.seqLen, maxBatches: t.evalBatches }),
  };
}

/** Eval loss on the trial's validation batches of a model folder, with a stored PEFT adapter loaded onto it if given. */
export async function evaluateCheckpoint(
  spec: TrialDataSpec & {
    modelDir: string;
    adapterConfig?: Record<string, unknown>;
    safetensors?: Uint8Array;
    backend?: BackendPreference;
  },
): Promise<number> {
  await initBackend(spec.backend ?? 'auto');
  const loaded: LoadedHfModel = await loadHfModel(spec.modelDir);
  const data = await prepareTrialData(spec, loaded.tokenizer);
  const adapters =
    spec.adapterConfig && spec.safetensors ? AdapterSet.fromPeft(loaded.model, spec.adapterConfig, spec.safetensors) : undefined;
  try {
    return await evaluate(loaded.model, data.validation, adapters, { seqLen: spec.hyperparams.training.seqLen });
  } finally {
    adapters?.dispose();
    loaded.model.dispose();
  }
}

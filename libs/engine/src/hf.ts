// Hugging Face GPT-2 folders: config.json + model.safetensors (+ tokenizer files) to a
// Gpt2Model and back, in the layout GPT2LMHeadModel.from_pretrained loads.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gpt2Model, HostTensor } from './gpt2';
import { type Gpt2Config, readGpt2Config, writeGpt2Config } from './io/hf-config';
import { loadTokenizer } from './io/load-tokenizer';
import { parseSafetensors, type SafetensorsTensor, serializeSafetensors, toFloat32 } from './io/safetensors';
import type { Tokenizer } from './io/tokenizer';

export interface LoadedHfModel {
  model: Gpt2Model;
  tokenizer: Tokenizer;
  config: Gpt2Config;
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

function readSafetensorsFile(path: string, into: Map<string, HostTensor>): void {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(
      `Cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the model folder needs model.safetensors`,
    );
  }
  for (const [name, t] of parseSafetensors(bytes).tensors) into.set(name, { shape: t.shape, data: toFloat32(t) });
}

/** Loads a GPT-2 checkpoint folder; base weights come back frozen unless `trainable`. */
export async function loadHfModel(dir: string, options: { trainable?: boolean } = {}): Promise<LoadedHfModel> {
  const config = readGpt2Config(dir);
  const tokenizer = loadTokenizer(dir);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(
      `${dir}: the ${tokenizer.name} tokenizer has ${tokenizer.vocabSize} ids but the model's vocab_size is ${config.vocabSize}`,
    );
  }
  const weights = new Map<string, HostTensor>();
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(join(dir, 'model.safetensors')) && existsSync(index)) {
    const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
    for (const file of new Set(Object.values(map))) readSafetensorsFile(join(dir, file), weights);
  } else {
    readSafetensorsFile(join(dir, 'model.safetensors'), weights);
  }
  try {
    return { model: Gpt2Model.fromWeights(config, weights, { trainable: options.trainable ?? false }), tokenizer, config };
  } catch (err) {
    throw new Error(`${dir}: ${(err as Error).message}`);
  }
}

export interface SaveHfOptions {
  /** Folder to copy BPE tokenizer files from (byte-level needs none). */
  tokenizerDir?: string;
  /** Extra config.json fields (e.g. training provenance). */
  extraConfig?: Record<string, unknown>;
}

/**
 * Writes config.json and model.safetensors (F32, keys as the original gpt2 checkpoint: no
 * `transformer.` prefix, tied lm_head omitted), plus tokenizer files for BPE tokenizers.
 */
export async function saveHfModel(dir: string, model: Gpt2Model, tokenizer?: Tokenizer, options: SaveHfOptions = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const eos = tokenizer?.eosTokenId ?? null;
  const ids = tokenizer ? { bos_token_id: eos, eos_token_id: eos } : {};
  writeGpt2Config(dir, model.config, { ...ids, ...(options.extraConfig ?? {}) });
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of await model.exportWeights()) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
  if (tokenizer && tokenizer.name !== 'byte') {
    if (!options.tokenizerDir)
      throw new Error(`saveHfModel: a ${tokenizer.name} tokenizer needs options.tokenizerDir to copy its files from`);
    for (const f of TOKENIZER_FILES)
      if (existsSync(join(options.tokenizerDir, f))) copyFileSync(join(options.tokenizerDir, f), join(dir, f));
  }
}

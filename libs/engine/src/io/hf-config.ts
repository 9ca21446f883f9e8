// Reads and writes Hugging Face GPT-2 config.json files: maps HF field names to the engine's
// camelCase shape, validates what the engine relies on, writes what transformers' GPT2Config loads.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Gpt2Activation = 'gelu_new' | 'gelu' | 'relu';

export interface Gpt2Config {
  vocabSize: number;
  /** Maximum sequence length (rows of the position embedding). */
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden size; defaults to 4 * nEmbd (HF's n_inner: null). Always set by readGpt2Config. */
  nInner?: number;
  layerNormEpsilon: number;
  activation: Gpt2Activation;
  /** lm_head shares wte's weights (HF default true; GPT-2 checkpoints then have no lm_head.weight). */
  tieWordEmbeddings: boolean;
}

const ACTIVATIONS: readonly string[] = ['gelu_new', 'gelu', 'relu'];
// HF's gelu_pytorch_tanh is the same tanh approximation as gelu_new.
const ACTIVATION_ALIASES: Record<string, Gpt2Activation> = { gelu_pytorch_tanh: 'gelu_new' };

/** Keys derived from Gpt2Config; `extra` may not override them, or the file would contradict cfg. */
const STRUCTURAL_KEYS = [
  'model_type',
  'architectures',
  'vocab_size',
  'n_positions',
  'n_ctx',
  'n_embd',
  'n_layer',
  'n_head',
  'n_inner',
  'layer_norm_epsilon',
  'activation_function',
  'tie_word_embeddings',
];

/** GPT-2's <|endoftext|> id in its 50257-token vocabulary. */
const GPT2_EOS_ID = 50256;

function positiveInt(json: Record<string, unknown>, field: string, source: string): number {
  const v = json[field];
  if (!Number.isSafeInteger(v) || (v as number) <= 0) {
    throw new Error(`${source}: field "${field}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

/** Validates a parsed config.json object; `source` names the file in error messages. */
export function parseGpt2Config(json: unknown, source = 'config.json'): Gpt2Config {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const c = json as Record<string, unknown>;
  const architectures = Array.isArray(c.architectures) ? c.architectures : [];
  if (c.model_type !== 'gpt2' && !architectures.includes('GPT2LMHeadModel')) {
    throw new Error(
      `${source}: not a GPT-2 config (model_type ${JSON.stringify(c.model_type)}, architectures ${JSON.stringify(c.architectures)}); expected "model_type": "gpt2" or "architectures": ["GPT2LMHeadModel"]`,
    );
  }

  const vocabSize = positiveInt(c, 'vocab_size', source);
  // Very old GPT-2 configs only carry n_ctx.
  const nPositions = positiveInt(c, c.n_positions === undefined && c.n_ctx !== undefined ? 'n_ctx' : 'n_positions', source);
  const nEmbd = positiveInt(c, 'n_embd', source);
  const nLayer = positiveInt(c, 'n_layer', source);
  const nHead = positiveInt(c, 'n_head', source);
  if (nEmbd % nHead !== 0) {
    throw new Error(`${source}: field "n_embd" (${nEmbd}) must be divisible by "n_head" (${nHead}) so heads split the embedding evenly`);
  }
  const nInner = c.n_inner === undefined || c.n_inner === null ? 4 * nEmbd : positiveInt(c, 'n_inner', source);

  const eps = c.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw new Error(`${source}: field "layer_norm_epsilon" must be a positive number, got ${JSON.stringify(c.layer_norm_epsilon)}`);
  }

  const rawAct = c.activation_function ?? 'gelu_new';
  const activation = typeof rawAct === 'string' ? (ACTIVATION_ALIASES[rawAct] ?? rawAct) : rawAct;
  if (typeof activation !== 'string' || !ACTIVATIONS.includes(activation)) {
    throw new Error(
      `${source}: field "activation_function" is ${JSON.stringify(rawAct)}; supported: ${[...ACTIVATIONS, ...Object.keys(ACTIVATION_ALIASES)].join(', ')}`,
    );
  }

  const tie = c.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') {
    throw new Error(`${source}: field "tie_word_embeddings" must be true or false, got ${JSON.stringify(tie)}`);
  }
  // These change the attention math; refuse rather than silently compute something else.
  if (c.scale_attn_weights === false) {
    throw new Error(`${source}: field "scale_attn_weights": false (unscaled attention) is not supported; remove it or set it to true`);
  }
  if (c.scale_attn_by_inverse_layer_idx === true) {
    throw new Error(`${source}: field "scale_attn_by_inverse_layer_idx": true is not supported; remove it or set it to false`);
  }

  return {
    vocabSize,
    nPositions,
    nEmbd,
    nLayer,
    nHead,
    nInner,
    layerNormEpsilon: eps,
    activation: activation as Gpt2Activation,
    tieWordEmbeddings: tie,
  };
}

/** Reads `dir/config.json` as a GPT-2 config. */
export function readGpt2Config(dir: string): Gpt2Config {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(
      `Cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the model directory needs a Hugging Face config.json`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseGpt2Config(json, path);
}

/** The config.json object (HF field names) for `cfg`; see writeGpt2Config for `extra`. */
export function toHfGpt2Config(cfg: Gpt2Config, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const clashes = Object.keys(extra).filter((k) => STRUCTURAL_KEYS.includes(k));
  if (clashes.length > 0) {
    throw new Error(`writeGpt2Config: extra must not set ${clashes.join(', ')}; put those values in the Gpt2Config argument instead`);
  }
  const nInner = cfg.nInner ?? 4 * cfg.nEmbd;
  const defaultEos = cfg.vocabSize === 50257 ? GPT2_EOS_ID : null;
  const out: Record<string, unknown> = {
    activation_function: cfg.activation,
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0,
    bos_token_id: defaultEos,
    embd_pdrop: 0,
    eos_token_id: defaultEos,
    initializer_range: 0.02,
    layer_norm_epsilon: cfg.layerNormEpsilon,
    model_type: 'gpt2',
    n_ctx: cfg.nPositions,
    n_embd: cfg.nEmbd,
    n_head: cfg.nHead,
    n_inner: nInner === 4 * cfg.nEmbd ? null : nInner,
    n_layer: cfg.nLayer,
    n_positions: cfg.nPositions,
    resid_pdrop: 0,
    scale_attn_weights: true,
    summary_first_dropout: 0,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: cfg.vocabSize,
    ...extra,
  };
  for (const key of ['bos_token_id', 'eos_token_id']) {
    const id = out[key];
    if (id !== null && (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= cfg.vocabSize)) {
      throw new Error(
        `writeGpt2Config: ${key} ${JSON.stringify(id)} is not an id in a vocabulary of ${cfg.vocabSize}; pass null or the tokenizer's eosTokenId`,
      );
    }
  }
  parseGpt2Config(out, 'writeGpt2Config'); // same validation as reading, so we never write a file we would reject
  // Sorted keys, 2-space indent, trailing newline: how transformers writes config.json.
  return Object.fromEntries(
    Object.keys(out)
      .sort()
      .map((k) => [k, out[k]]),
  );
}

/**
 * Writes `dir/config.json` (creating `dir`) that transformers' GPT2Config / GPT2LMHeadModel load.
 * bos/eos default to 50256 for the 50257-token GPT-2 vocab and null otherwise; pass
 * `{ bos_token_id, eos_token_id }` in `extra` (e.g. the tokenizer's eosTokenId) to override.
 * Other `extra` keys are added verbatim (e.g. task_specific_params). Returns the file path.
 */
export function writeGpt2Config(dir: string, cfg: Gpt2Config, extra?: Record<string, unknown>): string {
  const json = toHfGpt2Config(cfg, extra);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(json, null, 2) + '\n');
  return path;
}

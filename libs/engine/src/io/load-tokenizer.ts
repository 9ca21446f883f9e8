// Picks the tokenizer for a model directory: GPT-2 byte-level BPE when its files are there,
// byte-level otherwise, and refuses combinations whose ids the model's vocab cannot hold.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ByteTokenizer } from './byte-tokenizer';
import { Gpt2BpeTokenizer } from './gpt2-bpe-tokenizer';
import type { Tokenizer } from './tokenizer';

/** Tokenizer files of other families; their presence means byte-level would be silently wrong. */
const FOREIGN_TOKENIZER_FILES = ['tokenizer.model', 'spiece.model', 'sentencepiece.bpe.model', 'vocab.txt'];

function readJson(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`Cannot parse ${path}: ${(err as Error).message}; fix or remove the file`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${path} must contain a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** GPT-2 style tokenizer.json (ByteLevel pre-tokenizer with the GPT-2 regex, BPE model), or null. */
function fromTokenizerJson(path: string): Gpt2BpeTokenizer | null {
  const json = readJson(path);
  if (json === null) return null;
  const model = json.model as { type?: unknown; vocab?: unknown; merges?: unknown } | undefined;
  const pre = json.pre_tokenizer as { type?: unknown; use_regex?: unknown } | null | undefined;
  const isGpt2Style = model?.type === 'BPE' && pre?.type === 'ByteLevel' && pre.use_regex !== false && !json.normalizer;
  if (!isGpt2Style) {
    throw new Error(
      `${path} describes a tokenizer other than GPT-2 byte-level BPE (model ${JSON.stringify(model?.type)}, pre_tokenizer ${JSON.stringify(pre?.type)}); only GPT-2 BPE (vocab.json + merges.txt) and byte-level are supported`,
    );
  }
  if (!Array.isArray(model.merges)) throw new Error(`${path}: model.merges must be an array`);
  const merges = model.merges.map((m: unknown, i: number): [string, string] => {
    // Older files store "a b" strings, newer ones [a, b] pairs.
    const pair = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new Error(`${path}: model.merges[${i}] must be "left right" or [left, right], got ${JSON.stringify(m)}`);
    }
    return [pair[0], pair[1]];
  });
  return new Gpt2BpeTokenizer(model.vocab as Record<string, number>, merges, path);
}

function declaredVocabSizes(dir: string): Array<{ file: string; size: number }> {
  const out: Array<{ file: string; size: number }> = [];
  for (const file of ['config.json', 'tokenizer_config.json']) {
    const json = readJson(join(dir, file));
    if (json === null || json.vocab_size === undefined || json.vocab_size === null) continue;
    const size = json.vocab_size;
    if (!Number.isSafeInteger(size) || (size as number) <= 0) {
      throw new Error(`${join(dir, file)}: "vocab_size" must be a positive integer, got ${JSON.stringify(size)}`);
    }
    out.push({ file, size: size as number });
  }
  return out;
}

/**
 * Loads the tokenizer for a model directory: `vocab.json` + `merges.txt` (or a GPT-2 style
 * `tokenizer.json`) give GPT-2 BPE, no tokenizer files give byte-level. Throws when
 * `config.json`/`tokenizer_config.json` declare a vocab_size the tokenizer does not fit.
 */
export function loadTokenizer(dir: string): Tokenizer {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`loadTokenizer: ${dir} is not a directory; pass the model directory holding config.json / vocab.json`);
  }
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  const hasVocab = existsSync(vocabPath);
  const hasMerges = existsSync(mergesPath);
  if (hasVocab !== hasMerges) {
    throw new Error(
      `loadTokenizer: ${dir} has ${hasVocab ? 'vocab.json but no merges.txt' : 'merges.txt but no vocab.json'}; GPT-2 BPE needs both files`,
    );
  }

  let tokenizer: Tokenizer | null = hasVocab
    ? Gpt2BpeTokenizer.fromFiles(vocabPath, mergesPath)
    : fromTokenizerJson(join(dir, 'tokenizer.json'));
  const isFallback = tokenizer === null;
  if (tokenizer === null) {
    const foreign = FOREIGN_TOKENIZER_FILES.filter((f) => existsSync(join(dir, f)));
    if (foreign.length > 0) {
      throw new Error(
        `loadTokenizer: ${dir} ships ${foreign.join(', ')}, a tokenizer family this engine does not implement; only GPT-2 BPE (vocab.json + merges.txt) and byte-level are supported`,
      );
    }
    const cls = readJson(join(dir, 'tokenizer_config.json'))?.tokenizer_class;
    if (typeof cls === 'string' && !/^GPT2/.test(cls)) {
      throw new Error(
        `loadTokenizer: ${dir}/tokenizer_config.json names tokenizer_class "${cls}", which is not supported; only GPT-2 BPE and byte-level are`,
      );
    }
    tokenizer = new ByteTokenizer();
  }

  for (const { file, size } of declaredVocabSizes(dir)) {
    if (size < tokenizer.vocabSize) {
      throw new Error(
        `loadTokenizer: ${dir}/${file} says vocab_size ${size} but the ${tokenizer.name} tokenizer produces ids up to ${tokenizer.vocabSize - 1}; the model's embedding cannot hold them (set vocab_size >= ${tokenizer.vocabSize} or use the matching tokenizer files)`,
      );
    }
    if (isFallback && size > tokenizer.vocabSize) {
      // A larger vocab with no tokenizer files almost always means the tokenizer files were not copied.
      throw new Error(
        `loadTokenizer: ${dir}/${file} says vocab_size ${size} but ${dir} has no vocab.json/merges.txt, so only the 256-id byte-level tokenizer is available; copy the model's tokenizer files into the directory or set vocab_size to 256`,
      );
    }
  }
  return tokenizer;
}

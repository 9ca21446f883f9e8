// Public API of the engine's I/O layer: safetensors, tokenizers, corpora, splits, batches and
// HF GPT-2 configs. Pure TypeScript + node:fs (no tfjs), so any thread or process can use it.
export * from './safetensors';
export type { Tokenizer } from './tokenizer';
export * from './byte-tokenizer';
export * from './gpt2-bpe-tokenizer';
export * from './load-tokenizer';
export * from './rng';
export * from './datasets';
export * from './split';
export * from './tokenize-documents';
export * from './batches';
export * from './hf-config';

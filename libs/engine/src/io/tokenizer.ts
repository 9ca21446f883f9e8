// The tokenizer contract shared by data loading, training and sampling: text <-> token ids,
// with an optional end-of-text id used to separate documents.

export interface Tokenizer {
  /** Stable identifier recorded with runs, e.g. "byte" or "gpt2-bpe". */
  readonly name: string;
  /** One past the largest id `encode` can return; the model's vocab must be at least this. */
  readonly vocabSize: number;
  /** Id that separates documents, or null when the vocabulary has none. */
  readonly eosTokenId: number | null;
  encode(text: string): number[];
  /** Must not throw on sequences cut mid-character (sampling produces those). */
  decode(ids: number[]): string;
}

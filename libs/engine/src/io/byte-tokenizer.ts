// Byte-level tokenizer: one token per UTF-8 byte (ids 0..255), no special tokens. The fallback
// when a model directory ships no BPE vocabulary, and a cheap tokenizer for from-scratch runs.
import type { Tokenizer } from './tokenizer';

export class ByteTokenizer implements Tokenizer {
  readonly name = 'byte';
  readonly vocabSize = 256;
  readonly eosTokenId: number | null = null;
  private readonly encoder = new TextEncoder();
  // Non-fatal: a window cut mid-character decodes to U+FFFD instead of throwing.
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  encode(text: string): number[] {
    return Array.from(this.encoder.encode(text));
  }

  decode(ids: number[]): string {
    const bytes = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id > 255) {
        throw new RangeError(
          `ByteTokenizer.decode: id ${id} at position ${i} is not a byte (0..255); the ids come from a different tokenizer`,
        );
      }
      bytes[i] = id;
    }
    return this.decoder.decode(bytes);
  }
}

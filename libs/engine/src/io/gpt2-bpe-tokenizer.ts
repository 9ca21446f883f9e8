// GPT-2's byte-level BPE (vocab.json + merges.txt), producing the same ids as Hugging Face's
// GPT2Tokenizer: byte-to-unicode table, GPT-2 pre-tokenization regex, ranked merges, a cache.
import { readFileSync } from 'node:fs';
import type { Tokenizer } from './tokenizer';

const EOS_TOKEN = '<|endoftext|>';
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
// Bounded so a pathological corpus (random strings) cannot grow the cache without limit.
const MAX_CACHE_ENTRIES = 200_000;

/**
 * GPT-2's reversible byte -> printable-character table: printable Latin-1 bytes map to
 * themselves, the rest to U+0100 onwards, so every BPE symbol is a visible, space-free string.
 */
export function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

/** Parses merges.txt: optional "#version" first line, then one "left right" pair per line. */
export function parseMergesTxt(text: string, source = 'merges.txt'): Array<[string, string]> {
  const merges: Array<[string, string]> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`${source} line ${i + 1}: expected "<left> <right>" separated by one space, got ${JSON.stringify(line)}`);
    }
    merges.push([parts[0], parts[1]]);
  }
  return merges;
}

export class Gpt2BpeTokenizer implements Tokenizer {
  readonly name = 'gpt2-bpe';
  readonly vocabSize: number;
  readonly eosTokenId: number | null;

  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly ranks: Map<string, number>;
  private readonly merges: ReadonlyArray<readonly [string, string]>;
  private readonly byteEncoder = bytesToUnicode();
  private readonly byteDecoder: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();
  private readonly utf8Decoder = new TextDecoder('utf-8', { fatal: false });

  /** Reads `vocab.json` and `merges.txt` (paths to the two files). */
  static fromFiles(vocabPath: string, mergesPath: string): Gpt2BpeTokenizer {
    let vocab: unknown;
    try {
      vocab = JSON.parse(readFileSync(vocabPath, 'utf8'));
    } catch (err) {
      throw new Error(`Cannot read GPT-2 vocabulary ${vocabPath}: ${(err as Error).message}; it must be a JSON object {token: id}`);
    }
    const merges = parseMergesTxt(readFileSync(mergesPath, 'utf8'), mergesPath);
    return new Gpt2BpeTokenizer(vocab as Record<string, number>, merges, vocabPath);
  }

  /**
   * @param vocab token -> id, must contain all 256 byte symbols of `bytesToUnicode()`.
   * @param merges merge pairs, highest priority first.
   */
  constructor(vocab: Record<string, number>, merges: ReadonlyArray<readonly [string, string]>, source = 'vocab') {
    if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
      throw new Error(`${source}: the vocabulary must be a JSON object mapping token strings to ids`);
    }
    this.encoder = new Map();
    this.decoder = new Map();
    let maxId = -1;
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isSafeInteger(id) || id < 0) {
        throw new Error(`${source}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids must be non-negative integers`);
      }
      const clash = this.decoder.get(id);
      if (clash !== undefined) {
        throw new Error(`${source}: tokens ${JSON.stringify(clash)} and ${JSON.stringify(token)} share id ${id}; ids must be unique`);
      }
      this.encoder.set(token, id);
      this.decoder.set(id, token);
      if (id > maxId) maxId = id;
    }
    const missing = this.byteEncoder.map((symbol, byte) => ({ symbol, byte })).filter(({ symbol }) => !this.encoder.has(symbol));
    if (missing.length > 0) {
      const sample = missing
        .slice(0, 5)
        .map(({ symbol, byte }) => `0x${byte.toString(16).padStart(2, '0')} (${JSON.stringify(symbol)})`)
        .join(', ');
      throw new Error(
        `${source}: byte-level BPE needs all 256 byte symbols in the vocabulary but ${missing.length} are missing, e.g. ${sample}; this is not a GPT-2 byte-level vocab.json`,
      );
    }
    this.byteDecoder = new Map(this.byteEncoder.map((symbol, byte) => [symbol, byte]));

    this.ranks = new Map();
    this.merges = merges.map(([l, r]) => [l, r] as const);
    merges.forEach(([left, right], rank) => {
      const merged = left + right;
      for (const part of [left, right, merged]) {
        if (!this.encoder.has(part)) {
          throw new Error(
            `merge #${rank + 1} "${left} ${right}": ${JSON.stringify(part)} is not in the vocabulary; vocab.json and merges.txt must come from the same tokenizer`,
          );
        }
      }
      const key = `${left} ${right}`;
      // Keep the first (highest-priority) rank if a pair is listed twice, as HF does.
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });

    this.vocabSize = maxId + 1;
    this.eosTokenId = this.encoder.get(EOS_TOKEN) ?? null;
  }

  /** The two files `fromFiles` reads, e.g. to save the tokenizer beside a fine-tuned model. */
  toFiles(): { 'vocab.json': string; 'merges.txt': string } {
    const byId = [...this.encoder].sort((a, b) => a[1] - b[1]);
    return {
      'vocab.json': JSON.stringify(Object.fromEntries(byId)),
      'merges.txt': ['#version: 0.2', ...this.merges.map(([l, r]) => `${l} ${r}`)].join('\n') + '\n',
    };
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    // HF treats "<|endoftext|>" in the text as the special token, not as characters.
    const segments = this.eosTokenId === null ? [text] : text.split(EOS_TOKEN);
    segments.forEach((segment, i) => {
      if (i > 0) ids.push(this.eosTokenId as number);
      for (const match of segment.matchAll(PRETOKENIZE)) {
        for (const id of this.encodeWord(match[0])) ids.push(id);
      }
    });
    return ids;
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const token = this.decoder.get(ids[i]);
      if (token === undefined) {
        throw new RangeError(`Gpt2BpeTokenizer.decode: id ${ids[i]} at position ${i} is not in the vocabulary (size ${this.vocabSize})`);
      }
      for (const ch of token) {
        const byte = this.byteDecoder.get(ch);
        if (byte !== undefined) bytes.push(byte);
        // Added tokens may hold characters outside the byte table; emit them as plain UTF-8.
        else for (const b of this.utf8.encode(ch)) bytes.push(b);
      }
    }
    return this.utf8Decoder.decode(Uint8Array.from(bytes));
  }

  private encodeWord(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    let symbols = Array.from(this.utf8.encode(word), (b) => this.byteEncoder[b]);
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < symbols.length - 1; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          first = symbols[i];
          second = symbols[i + 1];
        }
      }
      if (bestRank === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length;) {
        if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(symbols[i]);
          i += 1;
        }
      }
      symbols = merged;
    }
    // Every symbol is in the vocab: base bytes and merge results were checked in the constructor.
    const ids = symbols.map((s) => this.encoder.get(s) as number);
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }
}

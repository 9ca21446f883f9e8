// Specs for GPT-2 byte-level BPE with a small hand-written vocab/merges pair: merge priority,
// space handling, unicode bytes, the eos token, file loading and round trips.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gpt2BpeTokenizer, bytesToUnicode, parseMergesTxt } from './gpt2-bpe-tokenizer';
import { Rng } from './rng';

const BYTES = bytesToUnicode();

/** Byte symbols get ids 0..255 (by byte value), `extra` tokens follow in order. */
function vocabWith(extra: string[]): Record<string, number> {
  const vocab: Record<string, number> = {};
  BYTES.forEach((s, b) => (vocab[s] = b));
  extra.forEach((t, i) => (vocab[t] = 256 + i));
  return vocab;
}

function make(merges: Array<[string, string]>, extraTokens: string[] = []): Gpt2BpeTokenizer {
  const produced = merges.map(([a, b]) => a + b);
  return new Gpt2BpeTokenizer(vocabWith([...new Set([...produced, ...extraTokens])]), merges);
}

describe('bytesToUnicode', () => {
  it('maps bytes to 256 distinct space-free symbols like GPT-2', () => {
    expect(new Set(BYTES).size).toBe(256);
    expect(BYTES[0x41]).toBe('A');
    expect(BYTES[0x20]).toBe('Ġ');
    expect(BYTES[0x0a]).toBe('Ċ');
    expect(BYTES[0x00]).toBe('Ā');
    expect(BYTES.some((s) => /\s/.test(s))).toBe(false);
  });
});

describe('Gpt2BpeTokenizer', () => {
  it('applies merges by rank, not by position', () => {
    const bcFirst = make([
      ['b', 'c'],
      ['a', 'b'],
    ]);
    const abFirst = make([
      ['a', 'b'],
      ['b', 'c'],
    ]);
    const id = (t: Gpt2BpeTokenizer, s: string) => t.encode(s);
    expect(bcFirst.decode(id(bcFirst, 'abc'))).toBe('abc');
    expect(id(bcFirst, 'abc')).toEqual([0x61, 256]); // a + bc
    expect(id(abFirst, 'abc')).toEqual([256, 0x63]); // ab + c
  });

  it('merges repeated pairs left to right without overlap and chains merges', () => {
    const tok = make([
      ['a', 'a'],
      ['aa', 'aa'],
    ]);
    // vocab: aa=256, aaaa=257
    expect(tok.encode('aaa')).toEqual([256, 0x61]);
    expect(tok.encode('aaaaa')).toEqual([257, 0x61]);
    expect(tok.encode('aaaaaa')).toEqual([257, 256]);
  });

  it('handles spaces like GPT-2: leading-space words and runs of whitespace', () => {
    const tok = make([
      ['t', 'h'],
      ['th', 'e'],
      ['Ġ', 'the'],
    ]);
    const [th, the, sThe] = [256, 257, 258];
    expect(tok.encode('the')).toEqual([the]);
    expect(tok.encode(' the')).toEqual([sThe]);
    // "  the": the first space stands alone, the second attaches to the word.
    expect(tok.encode('  the')).toEqual([0x20, sThe]);
    expect(tok.encode('the\n\nthe')).toEqual([the, 0x0a, 0x0a, the]);
    expect(tok.encode('tha')).toEqual([th, 0x61]);
    expect(tok.encode('the ')).toEqual([the, 0x20]);
  });

  it('splits contractions, numbers and punctuation before merging', () => {
    // "'t" and "on" would merge across the split if pre-tokenization were skipped.
    const tok = make([
      ["'", 't'],
      ['n', "'"],
      ['o', 'n'],
    ]);
    const [apT, , on] = [256, 257, 258];
    expect(tok.encode("don't")).toEqual([0x64, on, apT]);
    expect(tok.encode('ab12!?')).toEqual([0x61, 0x62, 0x31, 0x32, 0x21, 0x3f]);
  });

  it('works on UTF-8 bytes so any unicode is encodable', () => {
    // é is C3 A9 -> symbols "Ã" "©"
    const tok = make([
      ['Ã', '©'],
      ['Ġ', 'Ã©'],
    ]);
    expect(tok.encode('é')).toEqual([256]);
    expect(tok.encode(' é')).toEqual([257]);
    expect(tok.encode('日')).toEqual([0xe6, 0x97, 0xa5]);
    expect(tok.decode([0xe6, 0x97])).toBe('\uFFFD'); // partial character does not throw
    expect(tok.decode(tok.encode('naïve 日本語 🙂 é'))).toBe('naïve 日本語 🙂 é');
  });

  it('recognises <|endoftext|> as eos', () => {
    const tok = make([['Ġ', 'a']], ['<|endoftext|>']);
    expect(tok.eosTokenId).toBe(257);
    expect(tok.vocabSize).toBe(258);
    expect(tok.encode('a<|endoftext|> a')).toEqual([0x61, 257, 256]);
    expect(tok.decode([0x61, 257])).toBe('a<|endoftext|>');
    expect(make([]).eosTokenId).toBeNull();
  });

  it('round trips arbitrary text', () => {
    const tok = make([
      ['Ġ', 't'],
      ['h', 'e'],
      ['Ġt', 'he'],
      ['i', 'n'],
      ['Ġ', 'a'],
      ['e', 'r'],
      ['Ã', '©'],
      ['Ċ', 'Ċ'],
    ]);
    const rng = new Rng(7);
    const alphabet = [..."the quick brown fox\n\t  's'll 0123 ,.;!?é日本🙂€\u00a0\u3000"];
    for (let trial = 0; trial < 200; trial++) {
      let text = '';
      const len = rng.int(40);
      for (let i = 0; i < len; i++) {
        // Mostly the alphabet, sometimes any non-surrogate code point.
        if (rng.next() < 0.8) text += alphabet[rng.int(alphabet.length)];
        else {
          let cp = rng.int(0x110000);
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
          text += String.fromCodePoint(cp);
        }
      }
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('rejects vocabularies that are not byte-level or merges that leave the vocab', () => {
    const vocab = vocabWith([]);
    delete vocab['Ġ'];
    expect(() => new Gpt2BpeTokenizer(vocab, [])).toThrow(/1 are missing, e.g. 0x20 \("Ġ"\)/);
    expect(() => new Gpt2BpeTokenizer(vocabWith([]), [['a', 'b']])).toThrow(/merge #1 "a b": "ab" is not in the vocabulary/);
    expect(() => new Gpt2BpeTokenizer({ ...vocabWith([]), x1: 3 }, [])).toThrow(/share id 3/);
    expect(() => make([]).decode([999])).toThrow(/id 999 at position 0 is not in the vocabulary/);
  });

  it('loads vocab.json and merges.txt from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpe-'));
    try {
      writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocabWith(['he', 'Ġhe', '<|endoftext|>'])));
      writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\r\nh e\r\nĠ he\r\n');
      const tok = Gpt2BpeTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
      expect(tok.encode('he he')).toEqual([256, 257]);
      expect(tok.eosTokenId).toBe(258);
      // toFiles writes what fromFiles reads.
      const files = tok.toFiles();
      writeFileSync(join(dir, 'vocab2.json'), files['vocab.json']);
      writeFileSync(join(dir, 'merges2.txt'), files['merges.txt']);
      const again = Gpt2BpeTokenizer.fromFiles(join(dir, 'vocab2.json'), join(dir, 'merges2.txt'));
      expect(again.encode('he he<|endoftext|>')).toEqual(tok.encode('he he<|endoftext|>'));
      expect(files['merges.txt']).toBe('#version: 0.2\nh e\nĠ he\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the bad line of merges.txt', () => {
    expect(() => parseMergesTxt('#version: 0.2\na b\nabc\n', 'm.txt')).toThrow(/m.txt line 3: expected "<left> <right>"/);
    expect(parseMergesTxt('a b\n\nc d')).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });
});

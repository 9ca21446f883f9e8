// Specs for the byte-level tokenizer: ids are UTF-8 bytes and decoding survives cut characters.
import { ByteTokenizer } from './byte-tokenizer';

describe('ByteTokenizer', () => {
  const tok = new ByteTokenizer();

  it('encodes UTF-8 bytes as ids and has no eos', () => {
    expect(tok.vocabSize).toBe(256);
    expect(tok.eosTokenId).toBeNull();
    expect(tok.encode('Aé')).toEqual([0x41, 0xc3, 0xa9]);
  });

  it('round trips arbitrary unicode text', () => {
    const text = 'Call me Ishmael.\n\t日本語 🙂 naïve — “quotes”';
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('decodes partial UTF-8 sequences to replacement characters instead of throwing', () => {
    const ids = tok.encode('🙂x');
    const tail = tok.decode(ids.slice(1)); // starts mid-character
    expect(tail.endsWith('x')).toBe(true);
    expect(tail).toContain('\uFFFD');
    expect(tok.decode(ids.slice(0, 2))).toBe('\uFFFD'); // cut before the character ends
  });

  it('rejects ids that are not bytes', () => {
    expect(() => tok.decode([65, 256])).toThrow(/id 256 at position 1 is not a byte/);
  });
});

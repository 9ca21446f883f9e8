// Specs for corpus tokenization: documents joined with eos when the tokenizer has one, with an
// encoded blank line otherwise.
import { ByteTokenizer } from './byte-tokenizer';
import { Gpt2BpeTokenizer, bytesToUnicode } from './gpt2-bpe-tokenizer';
import { tokenizeDocuments } from './tokenize-documents';

describe('tokenizeDocuments', () => {
  const docs = [
    { id: 'a', text: 'hi' },
    { id: 'b', text: '' },
    { id: 'c', text: 'yo' },
  ];

  it('separates documents with "\\n\\n" when there is no eos', () => {
    const ids = tokenizeDocuments(docs, new ByteTokenizer());
    expect(ids).toBeInstanceOf(Int32Array);
    expect(new ByteTokenizer().decode(Array.from(ids))).toBe('hi\n\n\n\nyo');
  });

  it('separates documents with the eos id when there is one', () => {
    const vocab: Record<string, number> = {};
    bytesToUnicode().forEach((s, b) => (vocab[s] = b));
    vocab['<|endoftext|>'] = 256;
    const ids = tokenizeDocuments(docs, new Gpt2BpeTokenizer(vocab, []));
    expect(Array.from(ids)).toEqual([0x68, 0x69, 256, 256, 0x79, 0x6f]);
  });

  it('handles corpora larger than its initial buffer', () => {
    const big = Array.from({ length: 30 }, (_, i) => ({ id: String(i), text: 'x'.repeat(5000) }));
    const ids = tokenizeDocuments(big, new ByteTokenizer());
    expect(ids.length).toBe(30 * 5000 + 29 * 2);
    expect(tokenizeDocuments([], new ByteTokenizer()).length).toBe(0);
  });
});

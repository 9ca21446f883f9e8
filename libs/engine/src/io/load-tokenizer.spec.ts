// Specs for choosing a model directory's tokenizer and refusing vocab sizes it cannot serve.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToUnicode } from './gpt2-bpe-tokenizer';
import { loadTokenizer } from './load-tokenizer';

describe('loadTokenizer', () => {
  let root: string;
  let n = 0;
  beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'tok-'))));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function modelDir(files: Record<string, unknown>): string {
    const dir = join(root, String(n++));
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return dir;
  }

  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((s, b) => (vocab[s] = b));
  vocab['he'] = 256;
  vocab['<|endoftext|>'] = 257;

  it('uses GPT-2 BPE when vocab.json and merges.txt exist', () => {
    const tok = loadTokenizer(modelDir({ 'vocab.json': vocab, 'merges.txt': '#version: 0.2\nh e\n', 'config.json': { vocab_size: 258 } }));
    expect(tok.name).toBe('gpt2-bpe');
    expect(tok.vocabSize).toBe(258);
    expect(tok.eosTokenId).toBe(257);
    expect(tok.encode('hehe')).toEqual([256, 256]);
  });

  it('accepts a GPT-2 style tokenizer.json', () => {
    const tokenizerJson = {
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', vocab, merges: [['h', 'e']] },
    };
    const tok = loadTokenizer(modelDir({ 'tokenizer.json': tokenizerJson }));
    expect(tok.name).toBe('gpt2-bpe');
    expect(tok.encode('he')).toEqual([256]);
    expect(() => loadTokenizer(modelDir({ 'tokenizer.json': { ...tokenizerJson, model: { type: 'Unigram' } } }))).toThrow(
      /other than GPT-2 byte-level BPE/,
    );
  });

  it('falls back to byte-level without tokenizer files', () => {
    expect(loadTokenizer(modelDir({})).name).toBe('byte');
    expect(loadTokenizer(modelDir({ 'config.json': { model_type: 'gpt2', vocab_size: 256 } })).vocabSize).toBe(256);
  });

  it('throws when the declared vocab size cannot hold the tokenizer ids', () => {
    const dir = modelDir({ 'vocab.json': vocab, 'merges.txt': 'h e\n', 'config.json': { vocab_size: 100 } });
    expect(() => loadTokenizer(dir)).toThrow(/config.json says vocab_size 100 but the gpt2-bpe tokenizer produces ids up to 257/);
    expect(() => loadTokenizer(modelDir({ 'tokenizer_config.json': { vocab_size: 128 } }))).toThrow(
      /tokenizer_config.json says vocab_size 128 but the byte tokenizer produces ids up to 255/,
    );
  });

  it('refuses byte-level for a model whose vocab implies missing tokenizer files', () => {
    expect(() => loadTokenizer(modelDir({ 'config.json': { vocab_size: 50257 } }))).toThrow(
      /vocab_size 50257 but .* has no vocab.json\/merges.txt/,
    );
    expect(() => loadTokenizer(modelDir({ 'tokenizer.model': 'x' }))).toThrow(/ships tokenizer.model/);
    expect(() => loadTokenizer(modelDir({ 'tokenizer_config.json': { tokenizer_class: 'LlamaTokenizer' } }))).toThrow(
      /tokenizer_class "LlamaTokenizer"/,
    );
  });

  it('needs both BPE files and an existing directory', () => {
    expect(() => loadTokenizer(modelDir({ 'vocab.json': vocab }))).toThrow(/vocab.json but no merges.txt/);
    expect(() => loadTokenizer(join(root, 'nope'))).toThrow(/is not a directory/);
  });
});

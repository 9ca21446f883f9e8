// Specs for HF GPT-2 config.json: reading the real GPT-2 config, defaults, validation errors
// naming the field, and a write -> read round trip with transformers' field names.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGpt2Config, readGpt2Config, writeGpt2Config, type Gpt2Config } from './hf-config';

// The config.json published with the original 124M GPT-2 checkpoint (abridged to what matters).
const GPT2_SMALL = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  vocab_size: 50257,
};

describe('GPT-2 config.json', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'cfg-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the GPT-2 small config with HF defaults filled in', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(GPT2_SMALL));
    expect(readGpt2Config(dir)).toEqual({
      vocabSize: 50257,
      nPositions: 1024,
      nEmbd: 768,
      nLayer: 12,
      nHead: 12,
      nInner: 3072,
      layerNormEpsilon: 1e-5,
      activation: 'gelu_new',
      tieWordEmbeddings: true,
    });
  });

  it('accepts architectures without model_type, n_ctx without n_positions and explicit n_inner', () => {
    const { model_type: _m, n_positions: _p, ...rest } = GPT2_SMALL;
    const cfg = parseGpt2Config({ ...rest, n_inner: 1000, activation_function: 'gelu_pytorch_tanh', tie_word_embeddings: false });
    expect(cfg).toMatchObject({ nPositions: 1024, nInner: 1000, activation: 'gelu_new', tieWordEmbeddings: false });
  });

  it.each([
    [{ model_type: 'llama', architectures: ['LlamaForCausalLM'] }, /not a GPT-2 config \(model_type "llama"/],
    [{ n_head: 10 }, /"n_embd" \(768\) must be divisible by "n_head" \(10\)/],
    [{ n_layer: 0 }, /field "n_layer" must be a positive integer, got 0/],
    [{ vocab_size: '50257' }, /field "vocab_size" must be a positive integer, got "50257"/],
    [{ activation_function: 'swish' }, /field "activation_function" is "swish"; supported: gelu_new, gelu, relu/],
    [{ layer_norm_epsilon: -1 }, /field "layer_norm_epsilon" must be a positive number/],
    [{ tie_word_embeddings: 'yes' }, /field "tie_word_embeddings" must be true or false/],
    [{ scale_attn_by_inverse_layer_idx: true }, /scale_attn_by_inverse_layer_idx/],
  ])('rejects invalid fields (%#)', (patch, message) => {
    expect(() => parseGpt2Config({ ...GPT2_SMALL, ...patch }, 'x/config.json')).toThrow(message);
  });

  it('explains a missing or broken file', () => {
    expect(() => readGpt2Config(join(dir, 'nope'))).toThrow(/Cannot read .*config.json \(ENOENT\)/);
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'config.json'), '{');
    expect(() => readGpt2Config(broken)).toThrow(/is not valid JSON/);
  });

  it('writes a config transformers accepts and reads it back', () => {
    const cfg: Gpt2Config = {
      vocabSize: 256,
      nPositions: 128,
      nEmbd: 64,
      nLayer: 2,
      nHead: 4,
      layerNormEpsilon: 1e-5,
      activation: 'gelu',
      tieWordEmbeddings: true,
    };
    const out = join(dir, 'written', 'nested');
    const path = writeGpt2Config(out, cfg, { transformers_version: '4.46.0' });
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const json = JSON.parse(text);
    expect(Object.keys(json)).toEqual(Object.keys(json).slice().sort());
    expect(json).toMatchObject({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      n_embd: 64,
      n_layer: 2,
      n_head: 4,
      n_positions: 128,
      n_ctx: 128,
      n_inner: null,
      vocab_size: 256,
      layer_norm_epsilon: 1e-5,
      activation_function: 'gelu',
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      bos_token_id: null,
      eos_token_id: null,
      torch_dtype: 'float32',
      tie_word_embeddings: true,
      transformers_version: '4.46.0',
    });
    expect(readGpt2Config(out)).toEqual({ ...cfg, nInner: 256 });
  });

  it('defaults GPT-2 eos ids for the GPT-2 vocab and validates overrides', () => {
    const gpt2 = readGpt2Config(dir);
    const out = join(dir, 'gpt2-out');
    writeGpt2Config(out, gpt2);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ bos_token_id: 50256, eos_token_id: 50256 });
    const small = { ...gpt2, vocabSize: 300 };
    writeGpt2Config(out, small, { bos_token_id: 299, eos_token_id: 299 });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ eos_token_id: 299 });
    expect(() => writeGpt2Config(out, small, { eos_token_id: 300 })).toThrow(/eos_token_id 300 is not an id in a vocabulary of 300/);
    expect(() => writeGpt2Config(out, small, { n_embd: 1 })).toThrow(/extra must not set n_embd/);
    expect(() => writeGpt2Config(out, { ...small, nHead: 5 })).toThrow(/must be divisible by "n_head" \(5\)/);
  });
});

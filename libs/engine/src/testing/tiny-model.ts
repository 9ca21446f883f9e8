// Test helpers: a tiny GPT-2 config and deterministic host weights with a chosen spread.
import { Gpt2Model, gpt2WeightShapes, HostTensor } from '../gpt2';
import type { Gpt2Config } from '../io/hf-config';
import { Rng } from '../io/rng';

export function tinyConfig(over: Partial<Gpt2Config> = {}): Gpt2Config {
  return {
    vocabSize: 13,
    nPositions: 8,
    nEmbd: 8,
    nLayer: 2,
    nHead: 2,
    nInner: 32,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    tieWordEmbeddings: true,
    ...over,
  };
}

/** Every weight (LayerNorm gains and biases too) ~ N(mean, std): larger than GPT-2's init so gradients are well above float32 noise. */
export function randomWeights(config: Gpt2Config, seed: number, std = 0.3): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of gpt2WeightShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const mean = /ln_\d\.weight$|ln_f\.weight$/.test(name) ? 1 : 0;
    for (let i = 0; i < data.length; i++) data[i] = rng.normal(mean, std);
    out.set(name, { shape, data });
  }
  return out;
}

export function tinyModel(seed = 1, over: Partial<Gpt2Config> = {}, trainable = false): Gpt2Model {
  const config = tinyConfig(over);
  return Gpt2Model.fromWeights(config, randomWeights(config, seed), { trainable });
}

/** Deterministic token ids in [0, vocab). */
export function tokens(n: number, vocab: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

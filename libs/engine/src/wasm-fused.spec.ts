// The wasm fused kernels (LayerNorm, gelu_new, their input gradients) against the composite tfjs
// ops on the cpu backend, and a whole GPT step on wasm with and without them.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { normalizeRows } from './layer-norm';
import { maxDiff } from './testing/compare';
import { GELU_A, GELU_C } from './wasm-fused-wat';
import { uninstallWasmFused, wasmFusedActive } from './wasm-fused';
import { fusedGeluNew, fusedLayerNorm } from './webgpu-kernels';

const EPS = 1e-5;
let ROWS = 37;
let D = 24;

function inputs() {
  return {
    x: tf.randomUniform([ROWS, D], -3, 3, 'float32', 1) as tf.Tensor2D,
    g: tf.randomUniform([D], 0.5, 1.5, 'float32', 2),
    b: tf.randomUniform([D], -0.5, 0.5, 'float32', 3),
    w: tf.randomUniform([ROWS, D], -1, 1, 'float32', 4), // weights of the scalar the gradients are of
    // gelu over a wide range, the sigmoid's tails included
    z: tf.randomUniform([ROWS, D], -12, 12, 'float32', 5) as tf.Tensor2D,
  };
}

type Ops = { ln: (x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor) => tf.Tensor; gelu: (x: tf.Tensor2D) => tf.Tensor };

const composite: Ops = {
  ln: (x, g, b) => tf.add(tf.mul(normalizeRows(x, EPS), g), b),
  gelu: (x) => tf.mul(x, tf.sigmoid(tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), tf.scalar(GELU_A))), tf.scalar(GELU_C)))),
};
const fused: Ops = { ln: (x, g, b) => fusedLayerNorm(x, g, b, EPS), gelu: (x) => fusedGeluNew(x) };

async function run(ops: Ops): Promise<Float32Array[]> {
  const t = inputs();
  const outs = [
    ops.ln(t.x, t.g, t.b),
    tf.grad((x: tf.Tensor) => tf.sum(tf.mul(ops.ln(x as tf.Tensor2D, t.g, t.b), t.w)))(t.x),
    ops.gelu(t.z),
    tf.grad((z: tf.Tensor) => tf.sum(tf.mul(ops.gelu(z as tf.Tensor2D), t.w)))(t.z),
  ];
  const data = await Promise.all(outs.map(async (o) => (await o.data()) as Float32Array));
  tf.dispose([...outs, ...Object.values(t)]);
  return data;
}

describe('wasm fused kernels', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it('LayerNorm, its x gradient, gelu_new and its gradient match the composite ops on cpu within 2e-5', async () => {
    await initBackend('cpu');
    const want = await run(composite);
    const info = await initBackend('wasm', { wasmThreads: 1 });
    expect(info.device).toMatch(/fused kernels/);
    expect(wasmFusedActive(D)).toBe(true);
    expect(wasmFusedActive(D + 2)).toBe(false); // rows must be whole vectors of 4
    const before = tf.memory().numTensors;
    const got = await run(fused);
    expect(tf.memory().numTensors).toBe(before);
    const names = ['layerNorm', 'layerNorm dx', 'geluNew', 'geluNew dx'];
    for (let i = 0; i < 4; i++) {
      expect({ name: names[i], diff: maxDiff(got[i], want[i]) < 2e-5 }).toEqual({ name: names[i], diff: true });
    }
    // The composite ops on wasm agree too (so the fused path is the only difference a step sees).
    uninstallWasmFused();
    expect(wasmFusedActive(D)).toBe(false);
    const plain = await run(composite);
    for (let i = 0; i < 4; i++) expect(maxDiff(plain[i], want[i])).toBeLessThan(2e-5);
  });

  it('2 threads: the kernels split over the GEMM helper threads (rows, element chunks) agree too', async () => {
    [ROWS, D] = [300, 64]; // 300 LayerNorm rows and 19,200 gelu elements: several chunks each
    try {
      await initBackend('cpu');
      const want = await run(composite);
      const info = await initBackend('wasm', { wasmThreads: 2 });
      expect(info.device).toMatch(/2 threads, .*fused kernels/);
      const got = await run(fused);
      for (let i = 0; i < 4; i++) expect(maxDiff(got[i], want[i])).toBeLessThan(2e-5);
      // Shapes the SIMD loops would overrun are refused, not computed past the output.
      const odd = tf.ones([1, 5]) as tf.Tensor2D;
      expect(() => fusedGeluNew(odd)).toThrow(/multiple of 4, got 5/);
      expect(() => fusedLayerNorm(odd, tf.ones([5]), tf.zeros([5]), EPS)).toThrow(/d a multiple of 4, got \[1,5\]/);
      odd.dispose();
    } finally {
      [ROWS, D] = [37, 24];
    }
  });
});

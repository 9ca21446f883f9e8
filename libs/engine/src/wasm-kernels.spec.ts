// The one wasm test file: the kernel fixes against cpu, and the whole model wasm vs cpu.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { gradCheck } from './testing/grad-check';
import { tinyModel, tokens } from './testing/tiny-model';

async function on<T>(backend: 'cpu' | 'wasm', f: () => Promise<T>): Promise<T> {
  await initBackend(backend);
  return f();
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('wasm kernel fixes', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  afterAll(async () => {
    await initBackend('cpu');
  });

  it('matmul with transpose flags, batches and broadcast batches matches cpu', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 7, 5], [4, 3, 7], true, true],
      [[2, 3, 5, 7], [7, 3], false, false],
      [[1, 5, 7], [4, 7, 3], false, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = tf.randomUniform(sa, -1, 1, 'float32', 1);
      const b = tf.randomUniform(sb, -1, 1, 'float32', 2);
      const want = await on('cpu', async () => (await tf.matMul(a, b, ta, tb).data()) as Float32Array);
      const got = await on('wasm', async () => {
        const y = tf.matMul(a, b, ta, tb);
        return { data: (await y.data()) as Float32Array, shape: y.shape };
      });
      expect(got.data.length).toBe(want.length);
      expect(maxDiff(got.data, want)).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    }
  });

  it('does not reuse a packed B across two shapes of one buffer', async () => {
    await initBackend('wasm');
    const b = tf.randomUniform([6, 8], -1, 1, 'float32', 3);
    const first = tf.matMul(tf.ones([2, 6]), b); // packs b as [6, 8]
    const again = tf.matMul(tf.ones([2, 12]), tf.reshape(b, [12, 4])); // same buffer as [12, 4]
    const want = await on('cpu', async () => (await tf.matMul(tf.ones([2, 12]), tf.reshape(b, [12, 4])).data()) as Float32Array);
    await initBackend('wasm');
    expect(maxDiff((await again.data()) as Float32Array, want)).toBeLessThan(1e-5);
    tf.dispose([b, first, again]);
  });

  it('runs the model on wasm: forward within 1e-4 of cpu, gradients match finite differences', async () => {
    const model = tinyModel(7, {}, true);
    const x = tf.tensor2d(tokens(8, 13, 1), [2, 4], 'int32');
    const y = tf.tensor2d(tokens(8, 13, 2), [2, 4], 'int32');
    const cpu = await on('cpu', async () => (await model.forward(x).data()) as Float32Array);
    const wasm = await on('wasm', async () => (await model.forward(x).data()) as Float32Array);
    expect(maxDiff(wasm, cpu)).toBeLessThan(1e-4);
    // The loss goes through float one-hots (wasm's OneHot ignores its dtype argument).
    const lossOn = async (backend: 'cpu' | 'wasm') => on(backend, async () => (await model.loss(x, y).data())[0]);
    expect(Math.abs((await lossOn('wasm')) - (await lossOn('cpu')))).toBeLessThan(1e-5);
    for (const r of await gradCheck(() => model.loss(x, y, { training: true }), model.weight('h.1.mlp.c_proj.weight'), 1e-2, 3)) {
      expect(r.relError).toBeLessThan(1e-2);
    }
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('initBackend', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it("picks wasm (SIMD) under 'auto' when tfjs-node is absent, and explains webgpu/tensorflow", async () => {
    const info = await initBackend('auto');
    expect(info).toMatchObject({ backend: 'wasm', simd: true, threads: 1 });
    expect(tf.getBackend()).toBe('wasm');
    await expect(initBackend('webgpu')).rejects.toThrow(/^Backend 'webgpu' is not available here: /);
    await expect(initBackend('tensorflow')).rejects.toThrow(/tfjs-node/);
    expect((await initBackend('cpu')).backend).toBe('cpu');
  });
});

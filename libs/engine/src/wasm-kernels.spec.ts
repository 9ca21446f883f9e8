// The one wasm test file: the kernel fixes against cpu, and the whole model wasm vs cpu.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { gradCheck } from './testing/grad-check';
import { tinyModel, tokens } from './testing/tiny-model';
import { maxDiff } from './testing/compare';

async function on<T>(backend: 'cpu' | 'wasm', f: () => Promise<T>): Promise<T> {
  await initBackend(backend);
  return f();
}

describe('wasm kernel fixes', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  afterAll(async () => {
    await initBackend('cpu');
  });

  it('SplitV (row copies on wasm) matches cpu: any axis, sizes or a count, int32, and through its gradient', async () => {
    const run = async () => {
      const x = tf.randomUniform([5, 12, 3], -1, 1, 'float32', 9);
      const outs = [
        ...tf.split(x, [3, 4, 5], 1),
        ...tf.split(x, 5, 0),
        ...tf.split(x, [1, 2], 2),
        ...tf.split(tf.reshape(tf.range(0, 24, 1, 'int32'), [4, 6]), [2, 4], 1),
        tf.grad((z: tf.Tensor) => {
          const [a, b, c] = tf.split(z, [3, 4, 5], 1);
          return tf.sum(tf.add(tf.add(tf.sum(tf.mul(a, a)), tf.sum(tf.mul(b, 2))), tf.sum(tf.exp(c))));
        })(x),
      ];
      const data = await Promise.all(outs.map(async (o) => ({ shape: o.shape, values: Array.from(await o.data()) })));
      tf.dispose([x, ...outs]);
      return data;
    };
    const want = await on('cpu', run);
    const got = await on('wasm', run);
    expect(got.map((g) => g.shape)).toEqual(want.map((w) => w.shape));
    for (let i = 0; i < want.length; i++) expect(maxDiff(got[i].values, want[i].values)).toBeLessThan(1e-6);
    expect((tf.getKernel('SplitV', 'wasm') as { ours?: boolean }).ours).toBe(true);
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

describe('wasm UnsortedSegmentSum', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  afterAll(async () => {
    await initBackend('cpu');
  });

  it('matches cpu on random data: repeated ids, ids out of [0, numSegments) dropped', async () => {
    const cases: { x: number[]; ids: number[]; n: number }[] = [
      { x: [40, 6], ids: Array.from({ length: 40 }, (_, i) => (i * 7) % 5), n: 5 },
      { x: [12, 3, 2], ids: [0, 3, -1, 3, 9, 2, 2, 2, 4, 0, -5, 1], n: 5 },
      { x: [8, 5], ids: [1, 1, 3, 2, 7, 3, 1, 2], n: 3 },
    ];
    for (const [k, c] of cases.entries()) {
      const x = tf.randomUniform(c.x, -1, 1, 'float32', 10 + k);
      const ids = tf.tensor1d(c.ids, 'int32');
      const want = await on('cpu', async () => tf.unsortedSegmentSum(x, ids, c.n));
      const wantData = (await want.data()) as Float32Array;
      const got = await on('wasm', async () => tf.unsortedSegmentSum(x, ids, c.n));
      expect(got.shape).toEqual(want.shape);
      expect(maxDiff((await got.data()) as Float32Array, wantData)).toBeLessThan(1e-6);
      tf.dispose([x, ids, want, got]);
    }
    // A dropped id contributes nothing: segment sums over only in-range rows.
    await initBackend('wasm');
    const s = await tf.unsortedSegmentSum(tf.tensor1d([1, 10, 100]), tf.tensor1d([0, 2, -1], 'int32'), 2).data();
    expect(Array.from(s)).toEqual([1, 0]);
  });

  it('the gradient of a loss through tf.gather of an embedding table is the same on wasm as on cpu', async () => {
    const table = tf.variable(tf.randomUniform([11, 6], -1, 1, 'float32', 21));
    const ids = tf.tensor2d([3, 1, 3, 0, 10, 3, 7, 1], [2, 4], 'int32');
    const w = tf.randomUniform([6, 4], -1, 1, 'float32', 22);
    const grad = async (backend: 'cpu' | 'wasm') =>
      on(backend, async () => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.square(tf.matMul(tf.reshape(tf.gather(table, ids), [8, 6]), w))) as tf.Scalar,
          [table],
        );
        const out = { loss: (await value.data())[0], g: (await grads[table.name].data()) as Float32Array };
        tf.dispose([value, grads[table.name]]);
        return out;
      });
    const cpu = await grad('cpu');
    const wasm = await grad('wasm');
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-4);
    expect(maxDiff(wasm.g, cpu.g)).toBeLessThan(1e-4);
    // Row 3 appears three times, rows never gathered get zero.
    expect(Math.abs(cpu.g[3 * 6])).toBeGreaterThan(0);
    expect(Array.from(cpu.g.subarray(2 * 6, 3 * 6))).toEqual([0, 0, 0, 0, 0, 0]);
    tf.dispose([table, ids, w]);
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

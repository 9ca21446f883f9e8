// Our wasm GEMM (the BatchMatMul of the wasm backend) against tfjs's cpu backend: every
// transpose combination, shapes that leave partial row and column panels, batched and
// broadcast operands, FMA and plain builds, 1 and 2 threads.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { gemmWat } from './wasm-gemm-wat';
import { installWasmGemm, wasmPool } from './wasm-gemm';
import { maxDiff } from './testing/compare';

type Case = { a: number[]; b: number[]; ta: boolean; tb: boolean };

const CASES: Case[] = [
  { a: [1, 1], b: [1, 1], ta: false, tb: false },
  { a: [5, 3], b: [3, 7], ta: false, tb: false },
  { a: [13, 11], b: [11, 9], ta: false, tb: false },
  { a: [11, 13], b: [11, 9], ta: true, tb: false },
  { a: [13, 11], b: [9, 11], ta: false, tb: true },
  { a: [11, 13], b: [17, 11], ta: true, tb: true },
  { a: [64, 8], b: [64, 40], ta: true, tb: false }, // LoRA dB: [r, out] from [rows, r]^T · [rows, out]
  { a: [96, 64], b: [64, 8], ta: false, tb: false },
  { a: [13, 20], b: [20, 30], ta: false, tb: false }, // packed A, a 6-column last panel
  { a: [20, 13], b: [30, 20], ta: true, tb: true }, // packed A and packed B
  { a: [3, 2, 17, 12], b: [3, 2, 12, 10], ta: false, tb: false }, // batched (attention)
  { a: [3, 2, 17, 12], b: [3, 2, 10, 12], ta: false, tb: true },
  { a: [6, 12, 17], b: [6, 12, 10], ta: true, tb: false },
  { a: [4, 9, 12], b: [12, 5], ta: false, tb: false }, // B broadcast over A's batch
  { a: [9, 12], b: [4, 12, 5], ta: false, tb: false }, // A broadcast over B's batch
  // n > 16: A packed per batch item, chunks crossing items, packed A with broadcast operands
  { a: [3, 2, 17, 12], b: [3, 2, 12, 40], ta: false, tb: false },
  { a: [3, 2, 12, 17], b: [3, 2, 40, 12], ta: true, tb: true },
  { a: [4, 9, 12], b: [12, 40], ta: false, tb: false },
  { a: [9, 12], b: [4, 12, 40], ta: false, tb: false },
  { a: [5, 37, 33], b: [5, 33, 29], ta: false, tb: false },
];

async function references(): Promise<Float32Array[]> {
  await initBackend('cpu');
  const out: Float32Array[] = [];
  for (const [i, c] of CASES.entries()) {
    const a = tf.randomUniform(c.a, -1, 1, 'float32', 10 + i);
    const b = tf.randomUniform(c.b, -1, 1, 'float32', 50 + i);
    out.push((await tf.matMul(a, b, c.ta, c.tb).data()) as Float32Array);
    tf.dispose([a, b]);
  }
  return out;
}

async function worst(want: Float32Array[]): Promise<number> {
  let diff = 0;
  for (const [i, c] of CASES.entries()) {
    const y = tf.tidy(() => {
      const a = tf.randomUniform(c.a, -1, 1, 'float32', 10 + i);
      const b = tf.randomUniform(c.b, -1, 1, 'float32', 50 + i);
      return tf.matMul(a, b, c.ta, c.tb);
    });
    const got = (await y.data()) as Float32Array;
    y.dispose();
    expect(got.length).toBe(want[i].length);
    diff = Math.max(diff, maxDiff(got, want[i]));
  }
  return diff;
}

describe('wasm gemm', () => {
  let want: Float32Array[];
  beforeAll(async () => {
    want = await references();
  });
  afterAll(async () => {
    await initBackend('wasm', { wasmThreads: 1 });
    await initBackend('cpu');
  });

  it('refuses a micro-kernel height it does not generate', () => {
    expect(() => gemmWat({ mr: 6, fma: true, shared: false })).toThrow(/mr must be 4 or 8/);
    expect(gemmWat({ mr: 4, fma: true, shared: true })).toContain('relaxed_madd');
    expect(gemmWat({ mr: 4, fma: false, shared: false })).not.toContain('relaxed_madd');
  });

  it('1 thread, FMA: matches cpu within 1e-5 on every case, leaks no tensor', async () => {
    const info = await initBackend('wasm', { wasmThreads: 1 });
    expect(info.device).toMatch(/our matmul \(FMA\)/);
    const before = tf.memory().numTensors;
    expect(await worst(want)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('1 thread, plain multiply-add build: matches cpu too', async () => {
    await initBackend('wasm', { wasmThreads: 1 });
    expect(await installWasmGemm({ fma: false })).toEqual({ fma: false, threads: 1 });
    expect(await worst(want)).toBeLessThan(1e-5);
    expect(await installWasmGemm({ fma: true })).toEqual({ fma: true, threads: 1 });
  });

  it('2 threads (helpers on the shared heap): matches cpu, and a second round agrees', async () => {
    const info = await initBackend('wasm', { wasmThreads: 2 });
    expect(info.device).toMatch(/2 threads, our matmul/);
    expect(await worst(want)).toBeLessThan(1e-5);
    expect(await worst(want)).toBeLessThan(1e-5);
    // The helper really computes: a product of hundreds of row blocks, several times.
    const pool = wasmPool(tf.findBackend('wasm')!)!;
    const before = pool.helperChunks();
    const a = tf.randomUniform([1024, 64], -1, 1, 'float32', 3);
    const b = tf.randomUniform([64, 64], -1, 1, 'float32', 4);
    for (let i = 0; i < 10; i++) tf.dispose(await tf.matMul(a, b).data());
    tf.dispose([a, b]);
    expect(pool.helperChunks()).toBeGreaterThan(before);
  });

  it('LORA_WASM_GEMM off (wasmGemm: false) leaves XNNPACK, with the same results', async () => {
    const info = await initBackend('wasm', { wasmThreads: 1, wasmGemm: false });
    expect(info.device).toMatch(/XNNPACK matmul/);
    expect(await worst(want)).toBeLessThan(1e-5);
  });
});

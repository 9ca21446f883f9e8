// wasm with 2 threads in Node (threads forced on through wasm-threads.ts), against cpu, from
// the main thread and from a worker_threads thread (where the worker process trains).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { buildSync } from 'esbuild';
import { initBackend } from './backend';
import { resolveWasmThreads } from './wasm-threads';
import { maxDiff } from './testing/compare';

/** Bundles a small CommonJS entry over the engine's TypeScript (tfjs and wabt external) into one script. */
function bundle(entry: string): string {
  return buildSync({
    stdin: { contents: entry, resolveDir: __dirname, loader: 'js' },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    external: ['@tensorflow/*', 'wabt'],
    logLevel: 'silent',
  }).outputFiles[0].text;
}

describe('wasm threads', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it('resolves the option: auto, a count capped at 8, nonsense refused', () => {
    expect(resolveWasmThreads(2)).toBe(2);
    expect(resolveWasmThreads(64)).toBe(8);
    expect(resolveWasmThreads('auto')).toBeGreaterThanOrEqual(1);
    expect(() => resolveWasmThreads(0)).toThrow(/positive integer/);
  });

  it('initialises wasm with 2 threads; matmuls (plain and transposed) match cpu within 1e-5; back to 1 thread', async () => {
    await initBackend('cpu');
    const a = tf.randomUniform([64, 96], -1, 1, 'float32', 1);
    const b = tf.randomUniform([96, 80], -1, 1, 'float32', 2);
    const want = (await tf.matMul(a, b).data()) as Float32Array;
    const wantT = (await tf.matMul(b, a, true, true).data()) as Float32Array;
    const [ha, hb] = [await a.data(), await b.data()];
    tf.dispose([a, b]);

    const info = await initBackend('wasm', { wasmThreads: 2 });
    expect(info).toMatchObject({ backend: 'wasm', simd: true, threads: 2 });
    expect(info.device).toMatch(/2 threads/);
    const [wa, wb] = [tf.tensor2d(ha, [64, 96]), tf.tensor2d(hb, [96, 80])];
    expect(maxDiff((await tf.matMul(wa, wb).data()) as Float32Array, want)).toBeLessThan(1e-5);
    expect(maxDiff((await tf.matMul(wb, wa, true, true).data()) as Float32Array, wantT)).toBeLessThan(1e-5);
    tf.dispose([wa, wb]);

    // Unset keeps the initialised count; an explicit 1 re-creates it single-threaded.
    expect((await initBackend('wasm')).threads).toBe(2);
    expect((await initBackend('wasm', { wasmThreads: 1 })).threads).toBe(1);
    const x = tf.tensor2d(ha, [64, 96]);
    const y = tf.tensor2d(hb, [96, 80]);
    expect(maxDiff((await tf.matMul(x, y).data()) as Float32Array, want)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });

  it('runs 2 threads from inside a worker_threads thread (where the worker process trains)', async () => {
    // The worker cannot load TypeScript: esbuild bundles a small entry over backend.ts (tfjs
    // external) and the worker evaluates it, resolving packages from the cwd (the repo root).
    const entry = `
      const { parentPort } = require('node:worker_threads');
      const tf = require('@tensorflow/tfjs-core');
      const { initBackend } = require(${JSON.stringify(path.join(__dirname, 'backend.ts'))});
      (async () => {
        const info = await initBackend('wasm', { wasmThreads: 2 });
        const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
        const b = tf.tensor2d([1, 0, -1, 2, 0.5, 1], [3, 2]);
        parentPort.postMessage({ threads: info.threads, product: Array.from(await tf.matMul(a, b).data()) });
      })().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
    `;
    const code = bundle(entry);
    const worker = new Worker(code, { eval: true });
    try {
      const msg = await new Promise<{ threads?: number; product?: number[]; error?: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(msg.error).toBeUndefined();
      expect(msg.threads).toBe(2);
      // [[1,2,3],[4,5,6]] @ [[1,0],[-1,2],[0.5,1]]
      expect(msg.product).toEqual([0.5, 7, 2, 16]);
    } finally {
      await worker.terminate();
    }
  });
  it('lets a process that used 2 threads exit on its own (the pool does not hold the event loop)', () => {
    const entry = `
      const tf = require('@tensorflow/tfjs-core');
      const { initBackend } = require(${JSON.stringify(path.join(__dirname, 'backend.ts'))});
      (async () => {
        const info = await initBackend('wasm', { wasmThreads: 2 });
        const p = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
        console.log(JSON.stringify({ threads: info.threads, v: (await p.data())[0] }));
      })();
    `;
    const code = bundle(entry);
    const r = spawnSync(process.execPath, ['-e', code], { cwd: path.join(__dirname, '..', '..', '..'), encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined(); // no timeout: it exited by itself
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ threads: 2, v: 64 });
  });
});

// Micro-timings on one backend (meant for webgpu): the matmul shapes of a LoRA step with each
// transpose flag against an explicit transpose + plain matmul, and the per-op host overhead of a
// chain of tiny ops. Every variant is checked equal to the plain product before it is timed.
//   node dist/bench/webgpu-ops.bench.js [--backend webgpu] [--d 1024 --tokens 4096]
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { BackendPreference, initBackend, useTiledMatMul } from '@lora/engine';
import { msPerCall } from './support/device-timing';

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--backend <name>', 'backend', 'webgpu')
    .option('--d <n>', 'model width', '1024')
    .option('--tokens <n>', 'batch × seq', '4096')
    .option('--reps <n>', 'timed repetitions', '20')
    .parse()
    .opts();
  const info = await initBackend(o.backend as BackendPreference);
  console.log(`${info.backend} on ${info.device}`);
  const d = +o.d;
  const n = +o.tokens;
  const reps = +o.reps;
  // [m, k, n]: the projections of a GPT-2 block and the gradient products of the backward.
  const shapes: Array<[string, number, number, number]> = [
    ['c_fc bwd dX', n, 4 * d, d],
    ['c_attn fwd', n, d, 3 * d],
    ['c_fc fwd', n, d, 4 * d],
    ['mlp c_proj fwd', n, 4 * d, d],
    ['lora A (r=8)', n, d, 8],
    ['lora B (r=8)', n, 8, 3 * d],
  ];
  console.log(
    '\n| product | m×k×n | NN ms | NN TFLOP/s | tfjs NN ms | tfjs TFLOP/s | NN / tfjs | A·Bᵀ ms | explicit Bᵀ ms | Aᵀ·B ms | explicit Aᵀ ms |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, m, k, nn] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, nn]);
    const bt = tf.transpose(b);
    const at = tf.transpose(a);
    const ref = tf.matMul(a, b);
    for (const [label, f] of [
      ['A·Bᵀ', () => tf.matMul(a, bt, false, true)],
      ['Aᵀ·B', () => tf.matMul(at, b, true, false)],
    ] as const) {
      const out = f();
      const err = await maxDiff(out, ref);
      out.dispose();
      if (err > 1e-2 * Math.sqrt(k)) throw new Error(`${name} ${label}: max |diff| ${err}`);
    }
    // The engine's tiled kernel (where the shape fits) against tfjs's own, same inputs.
    useTiledMatMul(false);
    const tfjsRef = tf.matMul(a, b);
    const tfjsMs = await msPerCall(() => tf.matMul(a, b), reps);
    useTiledMatMul(true);
    const tiledErr = await maxDiff(ref, tfjsRef);
    tfjsRef.dispose();
    if (tiledErr > 1e-3 * Math.sqrt(k)) throw new Error(`${name}: engine matmul differs from tfjs's by ${tiledErr}`);
    const nnMs = await msPerCall(() => tf.matMul(a, b), reps);
    const ntMs = await msPerCall(() => tf.matMul(a, bt, false, true), reps);
    const ntExplicit = await msPerCall(() => tf.tidy(() => tf.matMul(a, tf.transpose(bt))), reps);
    const tnMs = await msPerCall(() => tf.matMul(at, b, true, false), reps);
    const tnExplicit = await msPerCall(() => tf.tidy(() => tf.matMul(tf.transpose(at), b)), reps);
    const tflops = (2 * m * k * nn) / (nnMs * 1e9);
    console.log(
      `| ${name} | ${m}×${k}×${nn} | ${nnMs.toFixed(3)} | ${tflops.toFixed(2)} | ${tfjsMs.toFixed(3)} | ${((2 * m * k * nn) / (tfjsMs * 1e9)).toFixed(2)} | ${(nnMs / tfjsMs).toFixed(2)} | ${ntMs.toFixed(3)} | ${ntExplicit.toFixed(3)} | ${tnMs.toFixed(3)} | ${tnExplicit.toFixed(3)} |`,
    );
    tf.dispose([a, b, bt, at, ref]);
  }
  // Host cost per op: chains of 500 adds on a 1-element tensor (GPU work ~0), timed to one read;
  // with a new scalar operand per op (an upload each) and with one kept on the device.
  const x = tf.scalar(1);
  const c = tf.scalar(1e-3);
  for (const [label, operand] of [
    ['a new scalar per op', () => tf.scalar(1e-3)],
    ['a kept scalar', () => c],
  ] as const) {
    const chainMs = await msPerCall(
      () =>
        tf.tidy(() => {
          let y: tf.Tensor = x;
          for (let i = 0; i < 500; i++) y = tf.add(y, operand());
          return y;
        }),
      5,
    );
    console.log(`per-op overhead, ${label}: ${((chainMs * 1000) / 500).toFixed(1)} µs per op (500-op chain ${chainMs.toFixed(1)} ms)`);
  }
  tf.dispose([x, c]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Times wasm BatchMatMul with and without the engine's wrapper kernel and checks they agree.
// Run: npx swc libs bench -d dist && node dist/bench/wasm-matmul.bench.js
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@lora/engine';

async function time(label: string, f: () => tf.Tensor, reps = 5): Promise<Float32Array> {
  const warm = f();
  const out = (await warm.data()) as Float32Array;
  warm.dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const y = f();
    await y.data();
    y.dispose();
  }
  console.log(`${label}: ${((performance.now() - t0) / reps).toFixed(1)} ms`);
  return out;
}

async function main(): Promise<void> {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['1024x1024 @ (256x1024)^T', [1024, 1024], [256, 1024], false, true],
    ['(1024x1024)^T @ 1024x256', [1024, 1024], [1024, 256], true, false],
    ['1024x1024 @ 1024x256', [1024, 1024], [1024, 256], false, false],
    ['attention [64,128,32] @ [64,128,32]^T', [64, 128, 32], [64, 128, 32], false, true],
    ['attention [64,128,128] @ [64,128,32]', [64, 128, 128], [64, 128, 32], false, false],
  ];
  const results: Record<string, Float32Array[]> = {};
  for (const fix of [false, true]) {
    await initBackend('wasm', { wasmMatMulFix: fix });
    console.log(`-- wasm, matmul fix ${fix ? 'on' : 'off'}`);
    for (const [label, sa, sb, ta, tb] of cases) {
      const a = tf.randomUniform(sa, -1, 1, 'float32', 1);
      const b = tf.randomUniform(sb, -1, 1, 'float32', 2);
      (results[label] ??= []).push(await time(label, () => tf.matMul(a, b, ta, tb)));
      a.dispose();
      b.dispose();
    }
  }
  for (const [label, [x, y]] of Object.entries(results)) {
    let err = 0;
    for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs(x[i] - y[i]));
    console.log(`${label}: max |diff| ${err.toExponential(2)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Micro-timings of wasm kernels the model leans on, to choose between equivalent formulations.
// Usage (after `npx swc libs bench -d dist`): node dist/bench/wasm-ops.bench.js
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@lora/engine';

async function t(label: string, f: () => tf.TensorContainer, reps = 10): Promise<void> {
  tf.dispose(f());
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) tf.dispose(f());
  console.log(`${label.padEnd(48)} ${((performance.now() - t0) / reps).toFixed(2)} ms`);
}

async function main(): Promise<void> {
  await initBackend('wasm');
  const dy = tf.randomNormal([1024, 1]);
  const big = tf.randomNormal([1024, 1024]);
  await t('broadcastTo [1024,1] -> [1024,256]', () => tf.broadcastTo(dy, [1024, 256]));
  await t('add zeros [1024,1] -> [1024,256]', () => tf.tidy(() => tf.add(dy, tf.zeros([1024, 256]))));
  await t('tanh 1M', () => tf.tanh(big));
  await t('sigmoid 1M', () => tf.sigmoid(big));
  await t('exp 1M', () => tf.exp(big));
  const a = tf.randomNormal([2048, 128]);
  const g = tf.randomNormal([2048, 512]);
  // Fresh operands each rep (tf.add(g, 0)): wasm caches XNNPACK's packed B per buffer.
  await t('sum axis 0 of [2048,512]', () => tf.tidy(() => tf.sum(tf.add(g, 0), 0)));
  await t('ones [1,2048] @ g', () => tf.tidy(() => tf.matMul(tf.ones([1, 2048]), tf.add(g, 0))));
  await t('g^T @ ones [2048,1]', () => tf.tidy(() => tf.matMul(tf.add(g, 0), tf.ones([2048, 1]), true, false)));
  await t('add(g, 0) alone', () => tf.add(g, 0));
  await t('a^T g  ([128,2048]@[2048,512])', () => tf.matMul(a, g, true, false));
  await t('(g^T a)^T ([512,2048]@[2048,128])', () => tf.tidy(() => tf.transpose(tf.matMul(g, a, true, false))));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Timing of tensor work on any backend: warm-up runs read back in full, then `reps` runs timed to
// a read of one element of the last result (on a GPU, reading a whole large output would time
// the copy to the host, not the ops).
import * as tf from '@tensorflow/tfjs-core';

/** Mean ms per call of `f` over `reps` calls, after `warmup` calls. */
export async function msPerCall(f: () => tf.Tensor, reps: number, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) {
    const t = f();
    await t.data();
    t.dispose();
  }
  const t0 = performance.now();
  let last: tf.Tensor | null = null;
  for (let i = 0; i < reps; i++) {
    last?.dispose();
    last = f();
  }
  const probe = tf.tidy(() => tf.slice(tf.reshape(last!, [-1]), 0, 1));
  await probe.data();
  tf.dispose([last!, probe]);
  return (performance.now() - t0) / reps;
}

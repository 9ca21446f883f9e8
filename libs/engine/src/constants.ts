// Scalar constants kept on the GPU, one per value. On webgpu `tf.scalar(c)` inside a step uploads
// a new one-element buffer every time it runs, and an upload costs more than the op that reads
// it; the constants of the model, its gradients and the adapters are fixed, so there they are
// made once and kept (a bounded set). On CPU backends a scalar costs nothing to make, and a plain
// tf.scalar keeps tensor accounting exact (leak checks count live tensors). Never dispose what
// `constant` returns. Values that change every step (the learning rate) stay `tf.scalar`.
import * as tf from '@tensorflow/tfjs-core';

const byBackend = new Map<string, Map<number, tf.Scalar>>();

/** A kept float32 scalar on the current backend. */
export function constant(value: number): tf.Scalar {
  const name = tf.getBackend();
  if (name !== 'webgpu') return tf.scalar(value);
  let cache = byBackend.get(name);
  if (!cache) byBackend.set(name, (cache = new Map()));
  let t = cache.get(value);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.scalar(value));
    cache.set(value, t);
  }
  return t;
}

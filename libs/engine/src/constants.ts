// Scalar constants kept on the GPU, one per value. On webgpu `tf.scalar(c)` inside a step uploads
// a new one-element buffer every time it runs, and an upload costs more than the op that reads
// it; the constants of the model, its gradients and the adapters are fixed, so there they are
// made once and kept (a bounded set). On CPU backends a scalar costs nothing to make, and a plain
// tf.scalar keeps tensor accounting exact (leak checks count live tensors). Never dispose what
// `constant` returns. Values that change every step (the learning rate) stay `tf.scalar`.
import * as tf from '@tensorflow/tfjs-core';

const onGpu = new Map<number, tf.Scalar>();

/** A float32 scalar on the current backend: kept and shared on webgpu, a plain tf.scalar elsewhere. */
export function constant(value: number): tf.Scalar {
  if (tf.getBackend() !== 'webgpu') return tf.scalar(value);
  let t = onGpu.get(value);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.scalar(value));
    onGpu.set(value, t);
  }
  return t;
}

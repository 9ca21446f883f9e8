// LayerNorm's normalisation as composite ops, shared by the model (CPU backends) and the webgpu
// kernels' γ gradient: (x − mean) / sqrt(var + eps) along the last axis, variance biased as torch's.
import * as tf from '@tensorflow/tfjs-core';
import { constant } from './constants';

export function normalizeRows(x: tf.Tensor, eps: number): tf.Tensor {
  const centered = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.mul(centered, tf.rsqrt(tf.add(variance, constant(eps))));
}

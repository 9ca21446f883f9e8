// Central finite differences against tfjs gradients, for a handful of coordinates.
import * as tf from '@tensorflow/tfjs-core';

export interface GradCheckResult {
  index: number;
  analytic: number;
  numeric: number;
  relError: number;
}

/**
 * Compares d loss / d variable at the `count` coordinates with the largest analytic gradient
 * (float32 differences are only meaningful well above rounding noise).
 */
export async function gradCheck(loss: () => tf.Scalar, variable: tf.Variable, h: number, count = 4): Promise<GradCheckResult[]> {
  const { grads } = tf.variableGrads(loss, [variable]);
  const analytic = (await grads[variable.name].data()) as Float32Array;
  tf.dispose(grads);
  const order = Array.from(analytic.keys()).sort((a, b) => Math.abs(analytic[b]) - Math.abs(analytic[a]));
  const original = Float32Array.from((await variable.data()) as Float32Array);
  const evalAt = async (i: number, delta: number): Promise<number> => {
    const values = Float32Array.from(original);
    values[i] += delta;
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
    const l = loss();
    const v = (await l.data())[0];
    l.dispose();
    return v;
  };
  const out: GradCheckResult[] = [];
  for (const i of order.slice(0, count)) {
    const numeric = ((await evalAt(i, h)) - (await evalAt(i, -h))) / (2 * h);
    out.push({
      index: i,
      analytic: analytic[i],
      numeric,
      relError: Math.abs(numeric - analytic[i]) / Math.max(1e-12, Math.abs(analytic[i])),
    });
  }
  tf.tidy(() => variable.assign(tf.tensor(original, variable.shape)));
  return out;
}

import * as tf from '@tensorflow/tfjs-core';
import { Adam } from './adam';
import { initBackend } from './backend';

beforeAll(async () => {
  await initBackend('cpu');
});

/** torch.optim.AdamW written out in float64: decay with the group's lr, then the Adam step. */
function adamwReference(w0: number[], grads: number[][], lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const w = [...w0];
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < w.length; i++) {
      w[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      w[i] -= ((lr / (1 - b1 ** t)) * m[i]) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
    }
  });
  return w;
}

describe('Adam / AdamW', () => {
  const w0 = [0.5, -1.25, 2];
  const g = [
    [0.1, -0.3, 0.02],
    [-0.05, 0.2, 0.4],
  ];

  it('applies decoupled weight decay per group with the group lr, matching a hand-computed two-step AdamW update', async () => {
    const a = tf.variable(tf.tensor1d(w0));
    const b = tf.variable(tf.tensor1d(w0));
    const c = tf.variable(tf.tensor1d(w0));
    const opt = new Adam(
      [
        { name: 'decayed', variables: [['a', a]], lrScale: 1, weightDecay: 0.1 },
        { name: 'fast', variables: [['b', b]], lrScale: 4, weightDecay: 0.05 },
        { name: 'default', variables: [['c', c]], lrScale: 1 },
      ],
      { weightDecay: 0.2 },
    );
    const lr = 0.01;
    for (const gs of g) {
      tf.tidy(() => opt.apply({ a: tf.tensor1d(gs), b: tf.tensor1d(gs), c: tf.tensor1d(gs) }, lr));
    }
    const close = (got: Float32Array, want: number[]) => want.forEach((x, i) => expect(got[i]).toBeCloseTo(x, 6));
    close((await a.data()) as Float32Array, adamwReference(w0, g, lr, 0.1));
    close((await b.data()) as Float32Array, adamwReference(w0, g, 4 * lr, 0.05));
    close((await c.data()) as Float32Array, adamwReference(w0, g, lr, 0.2));
    // The decay is visible: plain Adam lands elsewhere.
    expect(Math.abs((await a.data())[2] - adamwReference(w0, g, lr, 0)[2])).toBeGreaterThan(1e-4);
    opt.dispose();
    tf.dispose([a, b, c]);
  });

  it('is plain Adam without weight decay and resumes from saved state to the same weights', async () => {
    const lr = 0.02;
    const a = tf.variable(tf.tensor1d(w0));
    const opt = new Adam([{ name: 'g', variables: [['a', a]], lrScale: 1, weightDecay: 0.3 }]);
    tf.tidy(() => opt.apply({ a: tf.tensor1d(g[0]) }, lr));
    const state = await opt.getState();
    const b = tf.variable(a.clone());
    const resumed = new Adam([{ name: 'g', variables: [['a', b]], lrScale: 1, weightDecay: 0.3 }]);
    resumed.setState(state);
    tf.tidy(() => opt.apply({ a: tf.tensor1d(g[1]) }, lr));
    tf.tidy(() => resumed.apply({ a: tf.tensor1d(g[1]) }, lr));
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    Array.from(await a.data()).forEach((x, i) => expect(x).toBeCloseTo(adamwReference(w0, g, lr, 0.3)[i], 6));

    const plain = tf.variable(tf.tensor1d(w0));
    const adam = new Adam([{ name: 'g', variables: [['p', plain]], lrScale: 1 }]);
    for (const gs of g) tf.tidy(() => adam.apply({ p: tf.tensor1d(gs) }, lr));
    Array.from(await plain.data()).forEach((x, i) => expect(x).toBeCloseTo(adamwReference(w0, g, lr, 0)[i], 6));
    expect(() => new Adam([{ name: 'bad', variables: [], lrScale: 1, weightDecay: -1 }])).toThrow(/weightDecay of group 'bad'/);
    for (const o of [opt, resumed, adam]) o.dispose();
    tf.dispose([a, b, plain]);
  });
});

// Adam's saved state across backends: 3 steps on `backend`, getState, a fresh Adam on cpu
// setState, 3 more steps, against 6 steps on cpu from the start. On webgpu the moments live in one
// fused [m; v] buffer that getState splits and setState joins: a swapped or misplaced half shows
// as a weight difference here (a same-backend round trip would hide a consistent swap).
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../adam';
import { BackendPreference, initBackend } from '../backend';

const SHAPES: Record<string, number[]> = { a: [7, 5], b: [13] };

function values(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648 - 0.5;
  });
}

async function steps(adam: Adam, vars: Record<string, tf.Variable>, targets: Record<string, Float32Array>, from: number, count: number) {
  for (let s = from; s < from + count; s++) {
    // Gradient of sum(scale · (w − target)²), a different scale each step so the moments matter.
    const grads = tf.tidy(() =>
      Object.fromEntries(
        Object.entries(vars).map(([name, w]) => [name, tf.mul(tf.sub(w, tf.tensor(targets[name], w.shape)), tf.scalar(2 * (1 + 0.5 * s)))]),
      ),
    );
    adam.apply(grads, 0.05);
    tf.dispose(Object.values(grads));
  }
}

function make(init: Record<string, Float32Array>) {
  const vars = Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape]) => [
      name,
      tf.variable(tf.tensor(init[name], shape), true, `resume_${name}_${Math.random()}`),
    ]),
  );
  const adam = new Adam([{ name: 'all', lrScale: 1, weightDecay: 0.01, variables: Object.entries(vars) }]);
  return { vars, adam };
}

async function read(vars: Record<string, tf.Variable>): Promise<Record<string, Float32Array>> {
  return Object.fromEntries(await Promise.all(Object.entries(vars).map(async ([n, v]) => [n, (await v.data()) as Float32Array])));
}

/** Largest |w| difference between the resumed run and the uninterrupted cpu run. */
export async function adamResumeAcrossBackends(backend: BackendPreference): Promise<{ maxDiff: number; device: string }> {
  const init = Object.fromEntries(Object.entries(SHAPES).map(([n, s], i) => [n, values(tf.util.sizeFromShape(s), 7 + i)]));
  const targets = Object.fromEntries(Object.entries(SHAPES).map(([n, s], i) => [n, values(tf.util.sizeFromShape(s), 70 + i)]));

  await initBackend('cpu');
  const ref = make(init);
  await steps(ref.adam, ref.vars, targets, 0, 6);
  const want = await read(ref.vars);
  ref.adam.dispose();
  tf.dispose(Object.values(ref.vars));

  const info = await initBackend(backend);
  const first = make(init);
  await steps(first.adam, first.vars, targets, 0, 3);
  const state = await first.adam.getState();
  const mid = await read(first.vars);
  first.adam.dispose();
  tf.dispose(Object.values(first.vars));

  await initBackend('cpu');
  const second = make(mid);
  second.adam.setState(state);
  await steps(second.adam, second.vars, targets, 3, 3);
  const got = await read(second.vars);
  second.adam.dispose();
  tf.dispose(Object.values(second.vars));

  let maxDiff = 0;
  for (const n of Object.keys(SHAPES))
    for (let i = 0; i < want[n].length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[n][i] - want[n][i]));
  return { maxDiff, device: info.device };
}

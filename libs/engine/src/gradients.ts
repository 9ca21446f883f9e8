// Gradients for the kernels the engine differentiates through. tfjs-core's Node bundle ships
// without its gradient registry (only the union package `@tensorflow/tfjs` adds it), so the
// engine registers the few it needs, once, and leaves any already registered alone.
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { constant } from './constants';

type Grad = (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => Record<string, () => Tensor>;

/** Sums `dy` over the axes that broadcasting added, back to `shape`. */
function unbroadcast(dy: Tensor, shape: number[]): Tensor {
  const axes = backend_util.getReductionAxes(shape, dy.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

function reductionGrad(dy: Tensor, x: Tensor, axis: number | number[], scale: number): Tensor {
  const keptShape = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis, x.shape)) keptShape[a] = 1;
  const g = tf.reshape(scale === 1 ? dy : tf.mul(dy, constant(scale)), keptShape);
  // On the GPU a Tile (broadcastTo); elsewhere a broadcasting add (wasm's Tile kernel is ~20x
  // slower). Zeros from zerosLike are made on the device, not uploaded from the host.
  return tf.getBackend() === 'webgpu' ? tf.broadcastTo(g, x.shape) : tf.add(g, tf.zerosLike(x));
}

/**
 * `x · yᵀ`. On webgpu an explicit transpose and a plain product: tfjs-backend-webgpu's packed
 * matmul reads a transposed B uncoalesced (~13 TFLOP/s against ~23 plain on an H200 for the
 * backward's `dY · Wᵀ`), and the transpose of a weight is a cheap copy.
 */
function matMulBt(x: Tensor, y: Tensor): Tensor {
  return tf.getBackend() === 'webgpu' && y.rank === 2 ? tf.matMul(x, tf.transpose(y)) : tf.matMul(x, y, false, true);
}

const grads: Record<string, { save?: string[]; saveOut?: boolean; saveAll?: boolean; f: Grad }> = {
  Add: {
    save: ['a', 'b'],
    f: (dy, [a, b]) => ({ a: () => unbroadcast(dy as Tensor, a.shape), b: () => unbroadcast(dy as Tensor, b.shape) }),
  },
  Sub: {
    save: ['a', 'b'],
    f: (dy, [a, b]) => ({ a: () => unbroadcast(dy as Tensor, a.shape), b: () => tf.neg(unbroadcast(dy as Tensor, b.shape)) }),
  },
  Multiply: {
    save: ['a', 'b'],
    f: (dy, [a, b]) => ({ a: () => unbroadcast(tf.mul(dy as Tensor, b), a.shape), b: () => unbroadcast(tf.mul(dy as Tensor, a), b.shape) }),
  },
  RealDiv: {
    save: ['a', 'b'],
    f: (dy, [a, b]) => ({
      a: () => unbroadcast(tf.div(dy as Tensor, b), a.shape),
      b: () => unbroadcast(tf.neg(tf.div(tf.mul(dy as Tensor, a), tf.square(b))), b.shape),
    }),
  },
  BatchMatMul: {
    save: ['a', 'b'],
    f: (d, [a, b], attrs) => {
      const dy = d as Tensor;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return { a: () => matMulBt(dy, b), b: () => tf.matMul(a, dy, true, false) };
      if (!transposeA && transposeB) return { a: () => tf.matMul(dy, b, false, false), b: () => tf.matMul(dy, a, true, false) };
      if (transposeA && !transposeB) return { a: () => tf.matMul(b, dy, false, true), b: () => tf.matMul(a, dy, false, false) };
      return { a: () => tf.matMul(b, dy, true, true), b: () => tf.matMul(dy, a, true, true) };
    },
  },
  // The gradient of a gather along axis 0 (an embedding lookup): scatter-add dy's rows back.
  GatherV2: {
    save: ['x', 'indices'],
    f: (dy, [x, indices], attrs) => {
      const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
      if (tf.util.parseAxisParam(axis, x.shape)[0] !== 0 || (batchDims ?? 0) !== 0) {
        throw new Error('GatherV2 gradient: only axis 0 without batchDims is implemented');
      }
      return {
        x: () => {
          const flatIds = tf.reshape(indices, [indices.size]) as tf.Tensor1D;
          const rows = tf.reshape(dy as Tensor, [indices.size, ...x.shape.slice(1)]);
          return tf.unsortedSegmentSum(rows, flatIds, x.shape[0]);
        },
        indices: () => tf.zerosLike(indices),
      };
    },
  },
  Reshape: { save: ['x'], f: (dy, [x]) => ({ x: () => tf.reshape(dy as Tensor, x.shape) }) },
  Transpose: {
    f: (dy, _s, attrs) => {
      const perm = (attrs as unknown as { perm: number[] }).perm;
      const inverse = backend_util.getUndoAxesPermutation(perm);
      return { x: () => tf.transpose(dy as Tensor, inverse) };
    },
  },
  Sum: { save: ['x'], f: (dy, [x], attrs) => ({ x: () => reductionGrad(dy as Tensor, x, attrs.axis as number[], 1) }) },
  Mean: {
    save: ['x'],
    f: (dy, [x], attrs) => {
      const axes = tf.util.parseAxisParam(attrs.axis as number[], x.shape);
      const n = axes.reduce((p, a) => p * x.shape[a], 1);
      return { x: () => reductionGrad(dy as Tensor, x, axes, 1 / n) };
    },
  },
  BroadcastTo: {
    f: (dy, _s, attrs) => {
      const inputShape = (attrs as unknown as { inputShape: number[] }).inputShape;
      return { x: () => unbroadcast(dy as Tensor, inputShape) };
    },
  },
  Exp: { saveOut: true, f: (dy, [y]) => ({ x: () => tf.mul(dy as Tensor, y) }) },
  Log: { save: ['x'], f: (dy, [x]) => ({ x: () => tf.div(dy as Tensor, x) }) },
  Tanh: { saveOut: true, f: (dy, [y]) => ({ x: () => tf.mul(dy as Tensor, tf.sub(constant(1), tf.square(y))) }) },
  Square: { save: ['x'], f: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.mul(x, constant(2))) }) },
  Sqrt: { saveOut: true, f: (dy, [y]) => ({ x: () => tf.div(dy as Tensor, tf.mul(y, constant(2))) }) },
  // d rsqrt(x) = -1/2 x^-3/2 = -1/2 y^3
  Rsqrt: { saveOut: true, f: (dy, [y]) => ({ x: () => tf.mul(dy as Tensor, tf.mul(tf.mul(tf.square(y), y), constant(-0.5))) }) },
  Sigmoid: { saveOut: true, f: (dy, [y]) => ({ x: () => tf.mul(dy as Tensor, tf.mul(y, tf.sub(constant(1), y))) }) },
  Relu: { save: ['x'], f: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.step(x)) }) },
  Erf: {
    save: ['x'],
    f: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.mul(tf.exp(tf.neg(tf.square(x))), constant(2 / Math.sqrt(Math.PI)))) }),
  },
  Neg: { f: (dy) => ({ x: () => tf.neg(dy as Tensor) }) },
  Identity: { f: (dy) => ({ x: () => tf.clone(dy as Tensor) }) },
  Cast: { f: (dy) => ({ x: () => tf.clone(dy as Tensor) }) },
  Softmax: {
    saveOut: true,
    f: (dy, [y], attrs) => {
      const dim = attrs.dim as number;
      return { logits: () => tf.mul(y, tf.sub(dy as Tensor, tf.sum(tf.mul(dy as Tensor, y), dim, true))) };
    },
  },
  Slice: {
    save: ['x'],
    f: (dy, [x], attrs) => {
      const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]);
      const paddings = x.shape.map((n, i): [number, number] => [begin[i], n - begin[i] - size[i]]);
      return { x: () => tf.pad(dy as Tensor, paddings) };
    },
  },
  SplitV: { f: (dy, _s, attrs) => ({ x: () => tf.concat(dy as Tensor[], attrs.axis as number) }) },
  Concat: {
    saveAll: true,
    f: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const axis = tf.util.parseAxisParam(attrs.axis as number, saved[0].shape)[0];
      const parts = tf.split(
        dy as Tensor,
        saved.map((t) => t.shape[axis]),
        axis,
      );
      return Object.fromEntries(parts.map((p, i) => [String(i), () => p]));
    },
  },
};

let registered = false;

/** Registers the engine's gradients (idempotent; keeps any gradient someone else registered). */
export function registerEngineGradients(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, g] of Object.entries(grads)) {
    if (tf.getGradient(kernelName) != null) continue;
    const config: GradConfig = {
      kernelName,
      inputsToSave: g.save,
      saveAllInputs: g.saveAll,
      outputsToSave: g.saveOut ? [true] : undefined,
      gradFunc: g.f as unknown as GradConfig['gradFunc'],
    };
    tf.registerGradient(config);
  }
}

registerEngineGradients();

// Two kernel fixes for the wasm backend, registered over tfjs-backend-wasm's own.
// BatchMatMul: wasm's XNNPACK path only covers batch-1 matmuls without transpose flags;
// everything else (every gradient matmul uses a transpose flag, attention is batched) falls
// into a naive loop ~10x slower. The wrapper transposes explicitly with wasm's Transpose
// kernel and runs batched products as 2-D calls, so every call reaches XNNPACK.
// XNNPACK's packed-weights cache inside wasm's matmul is keyed by B's buffer id alone, not its
// shape: the same buffer used as B under two shapes (reshapes share buffers) would reuse an
// operator with the wrong dimensions (out-of-bounds writes). The wrapper copies B in that case.
// Identity: wasm copies the buffer, and the autodiff tape clones every tensor it saves for the
// backward pass (~400 copies a step); sharing the buffer as the cpu backend does is safe
// because wasm kernels never write to their inputs.
import * as tf from '@tensorflow/tfjs-core';
import { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

type Attrs = { transposeA: boolean; transposeB: boolean };

let installed = false;
// Buffer -> the [k, n] it was first used with as a matmul B operand (see the header).
const packedShape = new WeakMap<object, string>();

/** Installs both fixes. Call after `tf.setBackend('wasm')`; idempotent. */
export function installWasmKernelFixes(): boolean {
  if (installed) return true;
  const identity = tf.getKernel('Identity', 'wasm');
  if (identity == null) return false;
  const sharedIdentity = ({ inputs, backend }: { inputs: { x: TensorInfo }; backend: WasmBackendLike }): TensorInfo => {
    backend.incRef(inputs.x.dataId);
    return { dataId: inputs.x.dataId, shape: inputs.x.shape, dtype: inputs.x.dtype };
  };
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ ...identity, kernelFunc: sharedIdentity as unknown as KernelFunc });

  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (original == null || transpose == null) throw new Error('wasm backend without BatchMatMul/Transpose kernels');
  const matmul2d = original.kernelFunc as KernelFunc;

  const kernelFunc = (args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: WasmBackendLike; attrs: Attrs }) => {
    const { backend, attrs } = args;
    let { a, b } = args.inputs;
    const temps: TensorInfo[] = [];
    const swapLast = (x: TensorInfo): TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
      const out = transpose.kernelFunc({ inputs: { x }, backend: backend as never, attrs: { perm } }) as TensorInfo;
      temps.push(out);
      return out;
    };
    if (attrs.transposeA) a = swapLast(a);
    if (attrs.transposeB) b = swapLast(b);

    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 1];
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const outBatchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const outShape = [...outBatchShape, m, n];
    const plain = { transposeA: false, transposeB: false };
    let out: TensorInfo;
    if (batchB === 1) {
      // [..., m, k] @ [k, n]: fold a's batch into rows, one 2-D product.
      const a2 = { dataId: a.dataId, shape: [batchA * m, k], dtype: a.dtype };
      let b2: TensorInfo = { dataId: b.dataId, shape: [k, n], dtype: b.dtype };
      const key = `${k}x${n}`;
      const seen = packedShape.get(b.dataId);
      if (seen === undefined) packedShape.set(b.dataId, key);
      else if (seen !== key) {
        b2 = backend.makeOutput([k, n], 'float32');
        backend.typedArrayFromHeap(b2).set(backend.typedArrayFromHeap(b));
        temps.push(b2);
      }
      out = matmul2d({ inputs: { a: a2, b: b2 }, backend: backend as never, attrs: plain }) as TensorInfo;
    } else {
      const batch = Math.max(batchA, batchB);
      if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) {
        throw new Error(`BatchMatMul: cannot broadcast batch shapes [${a.shape}] and [${b.shape}]`);
      }
      out = backend.makeOutput([batch * m, n], 'float32');
      const slice = (x: TensorInfo, i: number, rows: number, cols: number): TensorInfo => {
        const t = backend.makeOutput([rows, cols], 'float32');
        const size = rows * cols;
        backend.typedArrayFromHeap(t).set(backend.typedArrayFromHeap(x).subarray(i * size, (i + 1) * size));
        return t;
      };
      for (let i = 0; i < batch; i++) {
        const ai = slice(a, batchA === 1 ? 0 : i, m, k);
        const bi = slice(b, batchB === 1 ? 0 : i, k, n);
        const oi = matmul2d({ inputs: { a: ai, b: bi }, backend: backend as never, attrs: plain }) as TensorInfo;
        // Views are taken after every allocation: a heap growth detaches older ones.
        backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(oi).subarray(0, m * n), i * m * n);
        for (const t of [ai, bi, oi]) backend.disposeData(t.dataId);
      }
    }
    for (const t of temps) backend.disposeData(t.dataId);
    return { dataId: out.dataId, shape: outShape, dtype: out.dtype };
  };

  const config: KernelConfig = {
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: kernelFunc as unknown as KernelFunc,
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(config);
  installed = true;
  return true;
}

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * UnsortedSegmentSum, which wasm lacks (the gradient of a gather: trainable embeddings), as a
 * JS loop over the wasm heap: out[s, ...] = sum of x[i, ...] over i with segmentIds[i] = s;
 * ids outside [0, numSegments) are dropped (tf semantics). segmentIds may have any rank r; it
 * indexes x's first r axes. Idempotent; call after `tf.setBackend('wasm')`.
 */
export function installWasmUnsortedSegmentSum(): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') != null) return;
  const kernelFunc = ({
    inputs,
    backend,
    attrs,
  }: {
    inputs: { x: TensorInfo; segmentIds: TensorInfo };
    backend: WasmHeapBackend;
    attrs: { numSegments: number };
  }) => {
    const { x, segmentIds } = inputs;
    const numSegments = attrs.numSegments;
    const rows = tf.util.sizeFromShape(segmentIds.shape);
    const innerShape = x.shape.slice(segmentIds.shape.length);
    const inner = tf.util.sizeFromShape(innerShape);
    const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
    // Views after the allocation: a heap growth detaches older ones.
    const o = backend.typedArrayFromHeap(out);
    const xs = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(segmentIds);
    o.fill(0);
    for (let i = 0; i < rows; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      const src = i * inner;
      const dst = s * inner;
      for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
    }
    return out;
  };
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc });
}

/**
 * SplitV on wasm as row copies over the heap. tfjs's runs one strided Slice per output, ~4 ms
 * for the [1024, 768] → 3 × [1024, 256] split of attention's fused qkv (measured on the device's
 * Xeon: 16 ms a step); here each output is `outer` subarray copies of its contiguous run.
 * Idempotent; call after `tf.setBackend('wasm')`.
 */
export function installWasmSplitV(): void {
  const stock = tf.getKernel('SplitV', 'wasm');
  if (stock == null || (stock as { ours?: boolean }).ours) return;
  const kernelFunc = ({
    inputs,
    backend,
    attrs,
  }: {
    inputs: { x: TensorInfo };
    backend: WasmHeapBackend;
    attrs: { numOrSizeSplits: number[] | number; axis: number };
  }): TensorInfo[] => {
    const { x } = inputs;
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits, axis);
    const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
    const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
    const rowIn = x.shape[axis] * inner;
    const outs: TensorInfo[] = [];
    let offset = 0;
    for (const s of sizes) {
      const shape = [...x.shape];
      shape[axis] = s;
      const out = backend.makeOutput(shape, x.dtype);
      // Views after the allocation: a heap growth detaches older ones.
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      const run = s * inner;
      for (let o = 0; o < outer; o++) dst.set(src.subarray(o * rowIn + offset, o * rowIn + offset + run), o * run);
      offset += run;
      outs.push(out);
    }
    return outs;
  };
  tf.unregisterKernel('SplitV', 'wasm');
  tf.registerKernel({
    kernelName: 'SplitV',
    backendName: 'wasm',
    kernelFunc: kernelFunc as unknown as KernelFunc,
    ours: true,
  } as KernelConfig);
}

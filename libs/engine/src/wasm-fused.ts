// The fused LayerNorm and gelu_new kernels (and their gradients) for the wasm backend, from
// wasm-fused-wat.ts: the webgpu kernels' names and math, so gpt2.ts takes the same fused path on
// both backends. Each replaces ~7 tfjs ops forward and ~15 backward with one pass over memory.
// They run on the GEMM's thread pool (wasm-gemm.ts), which holds the module's instances.
import * as tf from '@tensorflow/tfjs-core';
import { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { WasmBackendLike } from './wasm-assemble';
import { OP_GELU, OP_GELU_GRAD, OP_LAYER_NORM, OP_LAYER_NORM_GRAD, wasmPool } from './wasm-gemm';
import { registerFusedGradients } from './webgpu-kernels';

let active = false;

type Args = { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };

/** One fused kernel on the pool of this backend instance: x, the second input (β or dy), γ, out. */
function run(
  backend: WasmBackendLike,
  op: number,
  ins: [TensorInfo, TensorInfo | undefined, TensorInfo | undefined],
  out: TensorInfo,
  rows: number,
  d: number,
  eps = 0,
): TensorInfo {
  const pool = wasmPool(backend);
  if (pool === undefined) throw new Error('wasm fused kernels: no GEMM pool for this wasm backend instance (installWasmGemm first)');
  const [x, second, gamma] = ins.map((t) => (t === undefined ? 0 : at(backend, t)));
  pool.fused(op, x, second, gamma, at(backend, out), rows, d, eps);
  return out;
}

const at = (backend: WasmBackendLike, t: TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;

// The SIMD loops step 4 floats at a time: refuse what they would overrun (gpt2.ts checks
// wasmFusedActive first, so the model never gets here with such shapes).
function rowsOf(name: string, x: TensorInfo): [number, number] {
  if (x.shape.length !== 2 || x.shape[1] % 4 !== 0)
    throw new Error(`${name} on wasm: x must be [rows, d] with d a multiple of 4, got [${x.shape}]`);
  return [x.shape[0], x.shape[1]];
}
function countOf(name: string, x: TensorInfo): number {
  const n = tf.util.sizeFromShape(x.shape);
  if (n % 4 !== 0) throw new Error(`${name} on wasm: the element count must be a multiple of 4, got ${n} ([${x.shape}])`);
  return n;
}

const KERNELS: Array<[string, (a: Args) => TensorInfo]> = [
  [
    'LoraLayerNorm',
    ({ inputs: { x, gamma, beta }, backend, attrs }) => {
      const [rows, d] = rowsOf('LoraLayerNorm', x);
      return run(backend, OP_LAYER_NORM, [x, beta, gamma], backend.makeOutput(x.shape, 'float32'), rows, d, attrs.eps as number);
    },
  ],
  [
    'LoraLayerNormGradX',
    ({ inputs: { dy, x, gamma }, backend, attrs }) => {
      const [rows, d] = rowsOf('LoraLayerNormGradX', x);
      return run(backend, OP_LAYER_NORM_GRAD, [x, dy, gamma], backend.makeOutput(x.shape, 'float32'), rows, d, attrs.eps as number);
    },
  ],
  [
    'LoraGeluNew',
    ({ inputs: { x }, backend }) => {
      const n = countOf('LoraGeluNew', x);
      return run(backend, OP_GELU, [x, undefined, undefined], backend.makeOutput(x.shape, 'float32'), n, 0);
    },
  ],
  [
    'LoraGeluNewGrad',
    ({ inputs: { dy, x }, backend }) => {
      const n = countOf('LoraGeluNewGrad', x);
      return run(backend, OP_GELU_GRAD, [x, dy, undefined], backend.makeOutput(x.shape, 'float32'), n, 0);
    },
  ],
];

/**
 * Registers the fused kernels for the current 'wasm' backend instance (call after
 * installWasmGemm, again after each re-initialisation). False when that backend has no GEMM
 * pool (its heap was not reachable): the ops then stay composite.
 */
export async function installWasmFused(): Promise<boolean> {
  const backend = tf.findBackend('wasm') as unknown as WasmBackendLike | undefined;
  if (backend === undefined) throw new Error('installWasmFused: the wasm backend is not initialised');
  if (wasmPool(backend) === undefined) return (active = false);
  for (const [name, fn] of KERNELS) {
    if (tf.getKernel(name, 'wasm') == null)
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as KernelFunc });
  }
  registerFusedGradients();
  return (active = true);
}

/** Stops using the fused kernels on wasm (the composite ops run): comparisons, and XNNPACK-only runs. */
export function uninstallWasmFused(): void {
  active = false;
}

/** Whether gpt2.ts should take the fused path on wasm: rows of `width` floats (a multiple of 4). */
export function wasmFusedActive(width: number): boolean {
  return active && width % 4 === 0 && tf.getBackend() === 'wasm';
}

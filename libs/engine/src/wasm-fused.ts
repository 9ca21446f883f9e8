// The fused LayerNorm and gelu_new kernels (and their gradients) for the wasm backend, from
// wasm-fused-wat.ts: the webgpu kernels' names and math, so gpt2.ts takes the same fused path on
// both backends. Each replaces ~7 tfjs ops forward and ~15 backward with one pass over memory.
import * as tf from '@tensorflow/tfjs-core';
import { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { heapMemory, WasmBackendLike } from './wasm-assemble';
import { fusedModule, FusedExports } from './wasm-fused-wat';
import { OP_GELU, OP_GELU_GRAD, OP_LAYER_NORM, OP_LAYER_NORM_GRAD, wasmPool } from './wasm-gemm';
import { registerFusedGradients } from './webgpu-kernels';

let exportsFor: { backend: object; fns: FusedExports } | undefined;
let active = false;

type Args = { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };

function fns(backend: WasmBackendLike): FusedExports {
  if (exportsFor?.backend !== backend) throw new Error('wasm fused kernels: installed for another wasm backend instance');
  return exportsFor.fns;
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
      const y = backend.makeOutput(x.shape, 'float32');
      const pool = wasmPool(backend);
      if (pool)
        pool.fused(OP_LAYER_NORM, at(backend, x), at(backend, beta), at(backend, gamma), at(backend, y), rows, d, attrs.eps as number);
      else fns(backend).layerNorm(at(backend, x), at(backend, gamma), at(backend, beta), at(backend, y), rows, d, attrs.eps as number);
      return y;
    },
  ],
  [
    'LoraLayerNormGradX',
    ({ inputs: { dy, x, gamma }, backend, attrs }) => {
      const [rows, d] = rowsOf('LoraLayerNormGradX', x);
      const dx = backend.makeOutput(x.shape, 'float32');
      const pool = wasmPool(backend);
      if (pool)
        pool.fused(OP_LAYER_NORM_GRAD, at(backend, x), at(backend, dy), at(backend, gamma), at(backend, dx), rows, d, attrs.eps as number);
      else fns(backend).layerNormGradX(at(backend, x), at(backend, dy), at(backend, gamma), at(backend, dx), rows, d, attrs.eps as number);
      return dx;
    },
  ],
  [
    'LoraGeluNew',
    ({ inputs: { x }, backend }) => {
      const n = countOf('LoraGeluNew', x);
      const y = backend.makeOutput(x.shape, 'float32');
      const pool = wasmPool(backend);
      if (pool) pool.fused(OP_GELU, at(backend, x), 0, 0, at(backend, y), n, 0);
      else fns(backend).geluNew(at(backend, x), at(backend, y), n);
      return y;
    },
  ],
  [
    'LoraGeluNewGrad',
    ({ inputs: { dy, x }, backend }) => {
      const n = countOf('LoraGeluNewGrad', x);
      const dx = backend.makeOutput(x.shape, 'float32');
      const pool = wasmPool(backend);
      if (pool) pool.fused(OP_GELU_GRAD, at(backend, x), at(backend, dy), 0, at(backend, dx), n, 0);
      else fns(backend).geluNewGrad(at(backend, x), at(backend, dy), at(backend, dx), n);
      return dx;
    },
  ],
];

/**
 * Registers the fused kernels for the current 'wasm' backend instance (call after
 * `tf.setBackend('wasm')`, again after each re-initialisation). False when the heap is not
 * reachable (the ops then stay composite).
 */
export async function installWasmFused(): Promise<boolean> {
  const backend = tf.findBackend('wasm') as unknown as WasmBackendLike | undefined;
  if (backend === undefined) throw new Error('installWasmFused: the wasm backend is not initialised');
  const memory = heapMemory(backend.wasm);
  if (memory === undefined) return (active = false);
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const module = await fusedModule(shared);
  if (exportsFor?.backend !== backend) {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    exportsFor = { backend, fns: instance.exports as unknown as FusedExports };
  }
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
  exportsFor = undefined;
}

/** Whether gpt2.ts should take the fused path on wasm: rows of `width` floats (a multiple of 4). */
export function wasmFusedActive(width: number): boolean {
  return active && width % 4 === 0 && tf.getBackend() === 'wasm';
}

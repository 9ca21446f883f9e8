// The fused LayerNorm and gelu_new kernels (and their gradients) for the wasm backend, from
// wasm-fused-wat.ts: the webgpu kernels' names and math, so gpt2.ts takes the same fused path on
// both backends. Each replaces ~7 tfjs ops forward and ~15 backward with one pass over memory.
import * as tf from '@tensorflow/tfjs-core';
import { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { assembleWat, heapMemory, WasmBackendLike } from './wasm-assemble';
import { fusedWat } from './wasm-fused-wat';
import { registerFusedGradients } from './webgpu-kernels';

interface FusedExports {
  layerNorm(x: number, g: number, b: number, y: number, rows: number, d: number, eps: number): void;
  layerNormGradX(x: number, dy: number, g: number, dx: number, rows: number, d: number, eps: number): void;
  geluNew(x: number, y: number, n: number): void;
  geluNewGrad(x: number, dy: number, dx: number, n: number): void;
}

let exportsFor: { backend: object; fns: FusedExports } | undefined;
let active = false;
const compiled = new Map<boolean, WebAssembly.Module>();

type Args = { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };

function fns(backend: WasmBackendLike): FusedExports {
  if (exportsFor?.backend !== backend) throw new Error('wasm fused kernels: installed for another wasm backend instance');
  return exportsFor.fns;
}

const at = (backend: WasmBackendLike, t: TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;

const KERNELS: Array<[string, (a: Args) => TensorInfo]> = [
  [
    'LoraLayerNorm',
    ({ inputs: { x, gamma, beta }, backend, attrs }) => {
      const y = backend.makeOutput(x.shape, 'float32');
      const [rows, d] = x.shape;
      fns(backend).layerNorm(at(backend, x), at(backend, gamma), at(backend, beta), at(backend, y), rows, d, attrs.eps as number);
      return y;
    },
  ],
  [
    'LoraLayerNormGradX',
    ({ inputs: { dy, x, gamma }, backend, attrs }) => {
      const dx = backend.makeOutput(x.shape, 'float32');
      const [rows, d] = x.shape;
      fns(backend).layerNormGradX(at(backend, x), at(backend, dy), at(backend, gamma), at(backend, dx), rows, d, attrs.eps as number);
      return dx;
    },
  ],
  [
    'LoraGeluNew',
    ({ inputs: { x }, backend }) => {
      const y = backend.makeOutput(x.shape, 'float32');
      fns(backend).geluNew(at(backend, x), at(backend, y), tf.util.sizeFromShape(x.shape));
      return y;
    },
  ],
  [
    'LoraGeluNewGrad',
    ({ inputs: { dy, x }, backend }) => {
      const dx = backend.makeOutput(x.shape, 'float32');
      fns(backend).geluNewGrad(at(backend, x), at(backend, dy), at(backend, dx), tf.util.sizeFromShape(x.shape));
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
  let module = compiled.get(shared);
  if (module === undefined) {
    module = new WebAssembly.Module(await assembleWat('fused.wat', fusedWat(shared), { simd: true, threads: shared }));
    compiled.set(shared, module);
  }
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
}

/** Whether gpt2.ts should take the fused path on wasm: rows of `width` floats (a multiple of 4). */
export function wasmFusedActive(width: number): boolean {
  return active && width % 4 === 0 && tf.getBackend() === 'wasm';
}

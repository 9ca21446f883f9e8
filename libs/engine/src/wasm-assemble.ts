// WebAssembly text → binary with wabt (an Emscripten build of WABT, no native code), and the
// wasm backend's heap: the modules we generate (wasm-gemm.ts, wasm-fused.ts) import the backend's
// own WebAssembly.Memory, so they read and write tensors where tfjs keeps them.
import * as v8 from 'node:v8';

export interface WatFeatures {
  simd?: boolean;
  relaxed_simd?: boolean;
  threads?: boolean;
}

export async function assembleWat(name: string, text: string, features: WatFeatures): Promise<Uint8Array<ArrayBuffer>> {
  const wabtInit = (await import('wabt')).default;
  const wabt = await wabtInit();
  const mod = wabt.parseWat(name, text, features);
  try {
    // wabt's typings omit validate's features argument; without it threads (shared memory) fail.
    (mod as unknown as { validate(f: object): void }).validate(features);
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** Relaxed SIMD in this V8: on by default from V8 11.4, behind a flag before (Node 20). */
export function enableRelaxedSimd(): void {
  const [major, minor] = process.versions.v8.split('.').map(Number);
  if (major < 11 || (major === 11 && minor < 4)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

export interface WasmModuleLike {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
}

export interface WasmBackendLike {
  wasm: WasmModuleLike;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): import('@tensorflow/tfjs-core').TensorInfo;
}

/** The backend's heap: the threaded build's shared memory, or the single-threaded build's export. */
export function heapMemory(wasm: WasmModuleLike): WebAssembly.Memory | undefined {
  return wasm.wasmMemory ?? wasm.asm?.memory;
}

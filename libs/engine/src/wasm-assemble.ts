// WebAssembly text → binary with wabt (an Emscripten build of WABT, no native code), and the
// wasm backend's heap: the modules we generate (wasm-gemm.ts, wasm-fused.ts) import the backend's
// own WebAssembly.Memory, so they read and write tensors where tfjs keeps them.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';

export interface WatFeatures {
  simd?: boolean;
  relaxed_simd?: boolean;
  threads?: boolean;
}

// Loading wabt and parsing costs ~150 ms, paid by every training thread (each is a fresh
// isolate) before its first step; the binaries are cached on disk by a hash of their text, so
// only the first thread on a host pays. Override the folder with LORA_WASM_CACHE_DIR.
const CACHE_VERSION = 1;

function cacheFile(name: string, text: string, features: WatFeatures): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: CACHE_VERSION, name, text, features }))
    .digest('hex')
    .slice(0, 32);
  return path.join(process.env.LORA_WASM_CACHE_DIR ?? path.join(os.tmpdir(), 'lora-wasm-cache'), `${key}.wasm`);
}

export async function assembleWat(name: string, text: string, features: WatFeatures): Promise<Uint8Array<ArrayBuffer>> {
  const file = cacheFile(name, text, features);
  try {
    // Only from a folder this user owns and nobody else can write to.
    const dir = fs.statSync(path.dirname(file));
    const ours = typeof process.getuid !== 'function' || (dir.uid === process.getuid() && (dir.mode & 0o022) === 0);
    if (!ours) throw new Error('cache folder not private');
    const cached = new Uint8Array(fs.readFileSync(file));
    if (WebAssembly.validate(cached)) return cached;
  } catch {
    // not cached yet (or unreadable): assemble
  }
  const wabtInit = (await import('wabt')).default;
  const wabt = await wabtInit();
  const mod = wabt.parseWat(name, text, features);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    // wabt's typings omit validate's features argument; without it threads (shared memory) fail.
    (mod as unknown as { validate(f: object): void }).validate(features);
    bytes = new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
  try {
    // Written aside and renamed: a reader never sees half a file.
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch {
    // a read-only or full disk only costs the next thread the assembly
  }
  return bytes;
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
  disposeData(dataId: object): boolean;
}

/** The backend's heap: the threaded build's shared memory, or the single-threaded build's export. */
export function heapMemory(wasm: WasmModuleLike): WebAssembly.Memory | undefined {
  return wasm.wasmMemory ?? wasm.asm?.memory;
}

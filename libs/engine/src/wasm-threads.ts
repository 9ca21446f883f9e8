// Multi-threaded wasm in Node. tfjs-backend-wasm 4.22 reports no thread support in Node, and
// forcing the flag fails: its threaded build starts its pthread workers from `blob:` URLs and
// hands them a blob of the bundled module factory, neither of which Node's workers can load.
// This module registers a 'wasm' backend factory that builds the same BackendWasm from the
// package's standalone threaded module (wasm-out/, a real file the pthread workers can load)
// with the pthread worker script written to a temp file. It works from the main thread and
// from a worker_threads thread. The C++ side caps the pool at emscripten_num_logical_cores()/2
// (its guess at physical cores), so the factory reports twice the requested count to it.
// Emscripten starts a pool of 8 pthread workers whatever the count; the unused ones stay idle.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as wasmPkg from '@tensorflow/tfjs-backend-wasm';

/** tfjs's own cap: threads beyond 8 are not pre-created. */
export const MAX_WASM_THREADS = 8;

/** What tfjs-backend-wasm picks in a browser: half the logical cores, 1 to 8. */
export function defaultWasmThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cores / 2)));
}

/** 'auto' (or undefined) → defaultWasmThreads(); a number is checked and capped at 8. */
export function resolveWasmThreads(threads: number | 'auto' | undefined): number {
  if (threads === undefined || threads === 'auto') return defaultWasmThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`wasm threads must be a positive integer or 'auto', got ${threads}`);
  return Math.min(threads, MAX_WASM_THREADS);
}

type Factory = () => tf.KernelBackend | Promise<tf.KernelBackend>;
interface EmscriptenInfo {
  env: Record<string, unknown>;
  [k: string]: unknown;
}
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => unknown;
  tfjs?: Record<string, unknown>;
  /** Emscripten's pthread bookkeeping: its Node workers. */
  PThread?: { runningWorkers?: Array<{ unref?(): void }>; unusedWorkers?: Array<{ unref?(): void }> };
}
type ModuleFactory = (config: Record<string, unknown>) => Promise<ThreadedModule>;

// Files of the package's wasm-out/ folder, loaded by absolute path at run time.
const load = (file: string): unknown => (module as NodeJS.Module).require(file);

const WASM_PRIORITY = 2; // tfjs-backend-wasm's own

let stockFactory: Factory | undefined;
let registeredThreads = 1;
let workerScript: string | undefined;

function packageDirs(): { dist: string; out: string } {
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  return { dist, out: path.join(dist, '..', 'wasm-out') };
}

/** The pthread worker script, written once per process (the package ships it as a JS string). */
function pthreadWorkerFile(out: string): string {
  if (workerScript && fs.existsSync(workerScript)) return workerScript;
  const { wasmWorkerContents } = load(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-wasm-'));
  const file = path.join(dir, 'pthread-worker.cjs');
  // The string holds `\n` escapes inside string literals that a plain write turns into line breaks.
  fs.writeFileSync(file, wasmWorkerContents.replace(/\n/g, '\\n'));
  workerScript = file;
  return file;
}

function threadedFactory(threads: number): Factory {
  return async () => {
    const { dist, out } = packageDirs();
    const mainScript = path.join(out, 'tfjs-backend-wasm-threaded-simd.js');
    const wasmFile = path.join(dist, 'tfjs-backend-wasm-threaded-simd.wasm');
    const worker = pthreadWorkerFile(out);
    const factory = load(mainScript) as ModuleFactory;
    const module = await factory({
      mainScriptUrlOrBlob: mainScript, // what each pthread worker imports
      locateFile: (p: string, prefix: string) => (p.endsWith('.worker.js') ? worker : p.endsWith('.wasm') ? wasmFile : prefix + p),
      instantiateWasm: (info: EmscriptenInfo, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
        const env = { ...info.env, emscripten_num_logical_cores: () => 2 * threads };
        WebAssembly.instantiate(fs.readFileSync(wasmFile), { ...info, env } as WebAssembly.Imports).then(
          (r) => receive(r.instance, r.module),
          (e) => console.error(`tfjs wasm (threaded) failed to instantiate: ${(e as Error).message}`),
        );
        return {};
      },
    });
    // The bridge tfjs's own init() adds.
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    wasmPkg.setThreadsCount(threads);
    const backend = new wasmPkg.BackendWasm(module as never);
    // The pool's pthreads run for the life of the backend, and emscripten keeps a running
    // pthread's Node worker referenced: without this a process that used them never exits.
    for (const w of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])]) w.unref?.();
    return backend;
  };
}

/**
 * Makes the next initialisation of the 'wasm' backend use `threads` threads (1: tfjs's own
 * single-threaded SIMD build). When wasm is already initialised with another count it is torn
 * down (its tensors die with it) and re-registered. Call before `tf.setBackend('wasm')`.
 */
export function useWasmThreads(threads: number): void {
  const registry = tf.engine().registryFactory as Record<string, { factory: Factory; priority: number }>;
  if (stockFactory === undefined) {
    const entry = registry.wasm;
    if (entry === undefined) throw new Error('tfjs-backend-wasm is not loaded');
    stockFactory = entry.factory;
  }
  if (threads === registeredThreads && registry.wasm !== undefined) return;
  // Disposes an initialised instance (its kernels' state, its pthreads); when it was the current
  // backend the engine is left without one until the caller's setBackend.
  tf.removeBackend('wasm');
  wasmPkg.setThreadsCount(threads === 1 ? -1 : threads);
  tf.registerBackend('wasm', threads === 1 ? stockFactory : threadedFactory(threads), WASM_PRIORITY);
  registeredThreads = threads;
}

/** The thread count of the initialised wasm backend (XNNPACK's pool). */
export function wasmThreadsInUse(): number {
  return wasmPkg.getThreadsCount();
}

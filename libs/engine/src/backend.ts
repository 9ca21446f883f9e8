// Picks and initialises the tfjs backend the engine runs on (best available first) and
// registers the engine's gradients and the wasm matmul fix.
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerEngineGradients } from './gradients';
import { installWasmKernelFixes, installWasmUnsortedSegmentSum } from './wasm-kernels';
import { resolveWasmThreads, useWasmThreads, wasmThreadsInUse } from './wasm-threads';

export type BackendPreference = 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';

export interface BackendInfo {
  backend: string;
  device: string;
  simd?: boolean;
  threads?: number;
}

export interface InitBackendOptions {
  /**
   * Replace wasm's BatchMatMul (so gradient and batched matmuls reach XNNPACK) and Identity
   * (buffer sharing) kernels; default true. Once installed they stay for the process.
   */
  wasmMatMulFix?: boolean;
  /**
   * wasm threads (XNNPACK's pool). Unset: an initialised wasm backend keeps its count, else
   * 'auto'. 'auto': what tfjs picks in a browser, half the
   * logical cores capped at 8, so threads are on where that is more than 1. A number asks for
   * that many (capped at 8); 1 uses tfjs's single-threaded SIMD build. Changing the count of an
   * initialised wasm backend re-creates it: tensors held on the old one are lost.
   */
  wasmThreads?: number | 'auto';
}

// Hidden from bundlers on purpose: the tfjs-node packages are optional and usually absent.
function optionalRequire(id: string): unknown {
  try {
    return (module as NodeJS.Module).require(id);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw new Error(`${id} is installed but failed to load: ${(err as Error).message}`);
  }
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model?.trim() ?? 'unknown CPU'} (${cpus.length} cores)`;
}

async function tryTensorflow(): Promise<BackendInfo | undefined> {
  for (const [pkg, device] of [
    ['@tensorflow/tfjs-node-gpu', 'GPU (libtensorflow, CUDA)'],
    ['@tensorflow/tfjs-node', `CPU (libtensorflow): ${cpuModel()}`],
  ] as const) {
    if (optionalRequire(pkg) === undefined) continue;
    if (await tf.setBackend('tensorflow')) return { backend: 'tensorflow', device };
  }
  return undefined;
}

let wasmPathSet = false;

async function initWasm(fix: boolean, threads: number | 'auto' | undefined): Promise<BackendInfo> {
  if (!wasmPathSet) {
    // The .wasm binaries sit beside the package's main file; an absolute prefix works from
    // any cwd, inside worker_threads and after bundling.
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    setWasmPaths(dist + path.sep);
    wasmPathSet = true;
  }
  // Left unset, an initialised wasm keeps its count (a second initBackend call in the same
  // thread must not re-create the backend under the tensors of the first).
  if (threads !== undefined || tf.findBackend('wasm') == null) useWasmThreads(resolveWasmThreads(threads));
  if (!(await tf.setBackend('wasm'))) throw new Error('The wasm backend failed to initialise (see the warning above).');
  if (fix) installWasmKernelFixes();
  installWasmUnsortedSegmentSum();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const n = wasmThreadsInUse();
  const mode = `wasm${simd ? ' SIMD' : ''}${n > 1 ? `, ${n} threads` : ''}`;
  return { backend: 'wasm', device: `CPU (${mode}): ${cpuModel()}`, simd, threads: n };
}

/**
 * Selects the tfjs backend. `auto` takes tfjs-node(-gpu) when installed, then wasm, then cpu.
 * Returns what actually runs, to record with each training attempt.
 */
export async function initBackend(preference: BackendPreference = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  registerEngineGradients();
  const fix = options.wasmMatMulFix ?? true;
  switch (preference) {
    case 'tensorflow': {
      const info = await tryTensorflow();
      if (info) return info;
      throw new Error(
        "Backend 'tensorflow' needs @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node; " +
          'neither is installed. Install one (it downloads libtensorflow) or choose wasm.',
      );
    }
    case 'webgpu':
      throw new Error(
        "Backend 'webgpu' is not yet supported: it needs @tensorflow/tfjs-backend-webgpu plus the npm 'webgpu' (Dawn) " +
          'package and libvulkan1 on the host; support is tracked in issue 7. Use wasm meanwhile.',
      );
    case 'wasm':
      return initWasm(fix, options.wasmThreads);
    case 'cpu':
      await tf.setBackend('cpu');
      return { backend: 'cpu', device: `CPU (plain JS): ${cpuModel()}` };
    case 'auto': {
      const native = await tryTensorflow();
      if (native) return native;
      try {
        return await initWasm(fix, options.wasmThreads);
      } catch {
        await tf.setBackend('cpu');
        return { backend: 'cpu', device: `CPU (plain JS): ${cpuModel()}` };
      }
    }
    default:
      throw new Error(`Unknown backend '${String(preference)}': use auto, wasm, cpu, webgpu or tensorflow.`);
  }
}

// Picks and initialises the tfjs backend the engine runs on (best available first) and
// registers the engine's gradients and the wasm matmul fix.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerEngineGradients } from './gradients';
import { installWasmFused, uninstallWasmFused } from './wasm-fused';
import { installWasmGemm, uninstallWasmGemm } from './wasm-gemm';
import { installWasmKernelFixes, installWasmSplitV, installWasmUnsortedSegmentSum } from './wasm-kernels';
import { resolveWasmThreads, useWasmThreads, wasmThreadsInUse } from './wasm-threads';
import { initWebgpu, WebgpuUnavailableError } from './webgpu';

export type BackendPreference = 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';

export interface BackendInfo {
  backend: string;
  device: string;
  simd?: boolean;
  threads?: number;
  /** With `auto`: each better backend that was tried and why it was passed over. */
  skipped?: string[];
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
  /**
   * wasm matmuls on our own GEMM (wasm-gemm.ts: packed operands, relaxed-SIMD FMA, its own
   * threads) rather than XNNPACK, and LayerNorm and gelu_new as fused kernels (wasm-fused.ts);
   * default true unless LORA_WASM_GEMM=0. Needs wasmMatMulFix.
   */
  wasmGemm?: boolean;
}

/**
 * Whether an optional tfjs-node package can run here: installed (an optional peer dependency:
 * `npm install @tensorflow/tfjs-node-gpu` on a CUDA host), with the libtensorflow binding its
 * install script downloads. Checked before requiring it: the package's import registers the whole
 * tfjs union (its gradients too) before the binding fails to load.
 */
export function probeTfjsNode(
  pkg: string,
  resolve: (id: string) => string = require.resolve,
): { ok: true } | { ok: false; reason: string } {
  let dir: string;
  try {
    dir = path.dirname(resolve(`${pkg}/package.json`));
  } catch {
    return { ok: false, reason: `${pkg} is not installed` };
  }
  const lib = path.join(dir, 'lib');
  const napi = fs.existsSync(lib) ? fs.readdirSync(lib).filter((d) => /^napi-v\d+$/.test(d)) : [];
  if (!napi.some((d) => fs.existsSync(path.join(lib, d, 'tfjs_binding.node')))) {
    return {
      ok: false,
      reason: `${pkg} is installed without its libtensorflow binding (its install script downloads it: run \`npm rebuild ${pkg}\` with network, or set TFJS_NODE_CDN_STORAGE to a mirror)`,
    };
  }
  return { ok: true };
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model?.trim() ?? 'unknown CPU'} (${cpus.length} cores)`;
}

const TFJS_NODE = {
  gpu: ['@tensorflow/tfjs-node-gpu', 'GPU (libtensorflow, CUDA)'],
  cpu: ['@tensorflow/tfjs-node', 'CPU (libtensorflow)'],
} as const;

/** The tensorflow backend through one of the packages, or undefined with each reason in `skipped`. */
async function tryTensorflow(kinds: Array<keyof typeof TFJS_NODE>, skipped: string[]): Promise<BackendInfo | undefined> {
  for (const kind of kinds) {
    const [pkg, device] = TFJS_NODE[kind];
    const probe = probeTfjsNode(pkg);
    if (!probe.ok) {
      skipped.push(`tensorflow (${kind.toUpperCase()}): ${probe.reason}`);
      continue;
    }
    try {
      (module as NodeJS.Module).require(pkg); // hidden from bundlers: optional
    } catch (err) {
      skipped.push(`tensorflow (${kind.toUpperCase()}): ${pkg} failed to load: ${(err as Error).message}`);
      continue;
    }
    if (await tf.setBackend('tensorflow')) return { backend: 'tensorflow', device: kind === 'cpu' ? `${device}: ${cpuModel()}` : device };
    skipped.push(`tensorflow (${kind.toUpperCase()}): ${pkg} loaded but its backend did not initialise`);
  }
  return undefined;
}

let wasmPathSet = false;

async function initWasm(fix: boolean, threads: number | 'auto' | undefined, gemm: boolean): Promise<BackendInfo> {
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
  if (fix) {
    installWasmKernelFixes();
    installWasmSplitV();
  }
  installWasmUnsortedSegmentSum();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const n = wasmThreadsInUse();
  let ours: Awaited<ReturnType<typeof installWasmGemm>>;
  let fused = false;
  if (fix && gemm && simd) {
    ours = await installWasmGemm({ threads: n });
    fused = await installWasmFused();
  } else {
    uninstallWasmGemm();
    uninstallWasmFused();
  }
  const matmul = ours === undefined ? 'XNNPACK matmul' : `our matmul${ours.fma ? ' (FMA)' : ''}${fused ? ' and fused kernels' : ''}`;
  const mode = `wasm${simd ? ' SIMD' : ''}${n > 1 ? `, ${n} threads` : ''}, ${matmul}`;
  return { backend: 'wasm', device: `CPU (${mode}): ${cpuModel()}`, simd, threads: n };
}

/**
 * Selects the tfjs backend. `auto` takes tfjs-node-gpu when installed, then a WebGPU adapter,
 * then tfjs-node, then wasm, then cpu, and says in `skipped` why it passed each one over.
 * Returns what actually runs, to record with each training attempt.
 */
export async function initBackend(preference: BackendPreference = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  registerEngineGradients();
  const fix = options.wasmMatMulFix ?? true;
  switch (preference) {
    case 'tensorflow': {
      const why: string[] = [];
      const info = await tryTensorflow(['gpu', 'cpu'], why);
      if (info) return info;
      throw new Error(
        "Backend 'tensorflow' needs @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node with libtensorflow: " +
          `${why.join('; ')}. Install one (its install downloads libtensorflow) or choose wasm.`,
      );
    }
    case 'webgpu':
      try {
        return await initWebgpu();
      } catch (err) {
        if (!(err instanceof WebgpuUnavailableError)) throw err;
        throw new Error(`Backend 'webgpu' is not available here: ${err.message}. Choose auto, wasm or cpu.`, { cause: err });
      }
    case 'wasm':
      return initWasm(fix, options.wasmThreads, options.wasmGemm ?? process.env.LORA_WASM_GEMM !== '0');
    case 'cpu':
      await tf.setBackend('cpu');
      return { backend: 'cpu', device: `CPU (plain JS): ${cpuModel()}` };
    case 'auto': {
      // Best first: libtensorflow on CUDA, a WebGPU adapter, libtensorflow on CPU, wasm, plain JS.
      const skipped: string[] = [];
      const gpu = await tryTensorflow(['gpu'], skipped);
      if (gpu) return { ...gpu, skipped };
      try {
        return { ...(await initWebgpu()), skipped };
      } catch (err) {
        if (!(err instanceof WebgpuUnavailableError)) throw err;
        skipped.push(`webgpu: ${err.message}`);
      }
      const cpu = await tryTensorflow(['cpu'], skipped);
      if (cpu) return { ...cpu, skipped };
      try {
        return { ...(await initWasm(fix, options.wasmThreads, options.wasmGemm ?? process.env.LORA_WASM_GEMM !== '0')), skipped };
      } catch (err) {
        skipped.push(`wasm: ${(err as Error).message}`);
        await tf.setBackend('cpu');
        return { backend: 'cpu', device: `CPU (plain JS): ${cpuModel()}`, skipped };
      }
    }
    default:
      throw new Error(`Unknown backend '${String(preference)}': use auto, wasm, cpu, webgpu or tensorflow.`);
  }
}

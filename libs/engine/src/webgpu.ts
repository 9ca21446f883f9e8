// The `webgpu` backend in Node: Dawn through the npm `webgpu` package (dawn.node, Vulkan on
// Linux) under @tensorflow/tfjs-backend-webgpu. tfjs registers its webgpu backend only where
// `navigator.gpu` exists at import time (browsers), so the engine finds an adapter itself and
// registers the backend with that device. Nothing here downloads anything: dawn.node ships inside
// the npm package (or sits wherever WEBGPU_DAWN_NODE points, for bundled workers).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { installPackedUniforms, type WebgpuDispatchInternals } from './webgpu-dispatch';
import { registerWebgpuKernels } from './webgpu-kernels';

/** Why no webgpu device could be had (the auto choice logs it and moves on). */
export class WebgpuUnavailableError extends Error {
  override name = 'WebgpuUnavailableError';
}

export interface WebgpuInfo {
  backend: 'webgpu';
  device: string;
  /** The adapter's vendor/architecture/description as Dawn reports them. */
  adapter: Record<string, string>;
}

export interface WebgpuOptions {
  /** Accept a software adapter (SwiftShader, lavapipe); default false: auto wants a real GPU. */
  allowFallbackAdapter?: boolean;
  /** Dawn toggles/options passed to `create()` (e.g. `backend=vulkan`). */
  dawnFlags?: string[];
}

interface GpuAdapterLike {
  info?: Record<string, unknown> & { isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  features: { has(f: string): boolean };
  limits: Record<string, number>;
  requestDevice(d: unknown): Promise<unknown>;
}

interface DawnModule {
  create(flags: string[]): { requestAdapter(o?: unknown): Promise<GpuAdapterLike | null> };
  globals: Record<string, unknown>;
}

let initialised: WebgpuInfo | undefined;

/** The parts of tfjs-backend-webgpu 4.22's WebGPUBackend that installFastUploads replaces or uses. */
interface WebgpuBackendInternals {
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): { dtype: string; shape: number[]; values: ArrayLike<number> | null; resource: unknown } };
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferLike, dataOffset: number, size: number): void };
}

/**
 * Host → device uploads through `queue.writeBuffer` into a pooled buffer. tfjs 4.22 creates a
 * mapped buffer (and, when the pool has one, a mapped staging buffer plus a copy) for every
 * upload: in Dawn for Node that cost ~220 µs per upload against ~37 µs for a whole op without
 * one (bench/webgpu-ops.bench.ts), and a LoRA step uploads ~100 values (batch ids, scalars
 * of the ops and of their gradients). Queue order keeps it exact: the write lands before the
 * commands recorded after it are submitted, and pooled buffers are only reused once the commands
 * that used them were submitted.
 */
function installFastUploads(backend: WebgpuBackendInternals): void {
  const original = backend.uploadToGPU.bind(backend);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  backend.uploadToGPU = (dataId: object): void => {
    const t = backend.tensorMap.get(dataId);
    if (t.resource != null) return;
    const { values, dtype } = t;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (values == null || n === 0 || !(dtype === 'float32' || dtype === 'int32' || dtype === 'bool')) return original(dataId);
    const src =
      dtype === 'float32'
        ? values instanceof Float32Array
          ? values
          : Float32Array.from(values)
        : values instanceof Int32Array
          ? values
          : Int32Array.from(values);
    const buffer = backend.bufferManager.acquireBuffer(n * 4, usage);
    backend.queue.writeBuffer(buffer, 0, src.buffer, src.byteOffset, n * 4);
    t.values = null;
    t.resource = buffer;
  };
}

/** Where dawn.node is: WEBGPU_DAWN_NODE, else inside the installed `webgpu` package. */
export function dawnNodePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WEBGPU_DAWN_NODE) {
    if (!fs.existsSync(env.WEBGPU_DAWN_NODE)) throw new WebgpuUnavailableError(`WEBGPU_DAWN_NODE=${env.WEBGPU_DAWN_NODE} does not exist`);
    return env.WEBGPU_DAWN_NODE;
  }
  let pkg: string;
  try {
    pkg = path.dirname(require.resolve('webgpu/package.json'));
  } catch {
    throw new WebgpuUnavailableError("the optional npm package 'webgpu' (Dawn for Node) is not installed");
  }
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  const file = path.join(pkg, 'dist', `${process.platform}-${arch}`, 'dawn.node');
  if (!fs.existsSync(file)) throw new WebgpuUnavailableError(`the 'webgpu' package has no dawn.node for ${process.platform}-${arch}`);
  return file;
}

function describe(info: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['vendor', 'architecture', 'device', 'description']) {
    const v = info?.[k];
    if (typeof v === 'string' && v) out[k] = v;
  }
  return out;
}

/**
 * Finds a WebGPU adapter through Dawn, registers tfjs's webgpu backend on its device and makes it
 * current. Throws WebgpuUnavailableError (with the reason) when there is no usable adapter.
 * Idempotent: a second call reuses the first device.
 */
export async function initWebgpu(options: WebgpuOptions = {}): Promise<WebgpuInfo> {
  if (initialised) {
    if (!(await tf.setBackend('webgpu'))) throw new WebgpuUnavailableError('the webgpu backend failed to re-initialise');
    return initialised;
  }
  const file = dawnNodePath();
  let dawn: DawnModule;
  try {
    dawn = (module as NodeJS.Module).require(file) as DawnModule;
  } catch (err) {
    throw new WebgpuUnavailableError(`dawn.node failed to load (${file}): ${(err as Error).message}`);
  }
  // GPUBufferUsage, GPUMapMode, GPUShaderStage … : tfjs-backend-webgpu reads them as globals.
  Object.assign(globalThis, dawn.globals);
  // Dawn options, e.g. `enable-dawn-features=skip_validation`; WEBGPU_DAWN_FLAGS separates them by spaces.
  const flags = options.dawnFlags ?? (process.env.WEBGPU_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const gpu = dawn.create(flags);
  // tfjs-backend-webgpu checks `navigator.gpu` when its backend is constructed. Node 20 has no
  // navigator, Node 21+ one without gpu.
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new WebgpuUnavailableError(
      'Dawn found no GPU adapter (on Linux it needs libvulkan1 and a Vulkan driver; set VK_DRIVER_FILES to the ICD json if the driver is in a non-standard place)',
    );
  }
  const fallback = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  const adapterInfo = describe(adapter.info);
  if (fallback && !options.allowFallbackAdapter) {
    throw new WebgpuUnavailableError(`the only WebGPU adapter is a software fallback (${JSON.stringify(adapterInfo)})`);
  }
  // The same device request tfjs makes in a browser (base.ts), with the adapter's full limits.
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  // Loaded only now: the package registers its kernels for 'webgpu' at import.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu');
  // The package registers its own factory when it sees navigator.gpu at import; ours uses the
  // adapter found above.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device as GPUDevice, adapter.info as unknown as GPUAdapterInfo), 3);
  // Small ops stay on the GPU: forwarding them to the CPU reads the device synchronously.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!(await tf.setBackend('webgpu'))) throw new WebgpuUnavailableError('tfjs-backend-webgpu failed to initialise on the adapter');
  installFastUploads(tf.backend() as unknown as WebgpuBackendInternals);
  installPackedUniforms(tf.backend() as unknown as WebgpuDispatchInternals);
  registerWebgpuKernels();
  const name = adapterInfo.description || [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.device].filter(Boolean).join(' ');
  initialised = { backend: 'webgpu', device: `GPU (WebGPU/Dawn): ${name || 'unknown adapter'}`, adapter: adapterInfo };
  return initialised;
}

// BatchMatMul for the wasm backend on our own GEMM (wasm-gemm-wat.ts) instead of tfjs's XNNPACK
// call. Both operands are packed into panels first, so transposes cost nothing, batched products
// run as one call, and the inner loop uses relaxed SIMD's fused multiply-add where V8 has it
// (Node 20 behind --experimental-wasm-relaxed-simd, which we set at run time; on by default
// from V8 11.4). Measured on the device's Xeon, one thread, LoRA d256 shapes: 30–34 GFLOP/s
// against XNNPACK's 17–23 (bench/wasm-gemm.bench.ts).
// The module shares the backend's WebAssembly.Memory, so it reads the tensors where tfjs keeps
// them. With tfjs's threaded build (shared memory) the work is split over worker_threads that
// instantiate the same module on the same memory: the calling thread packs B, then every thread
// packs its share of A's row panels and computes those rows of C; Atomics carry the hand-off.
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { assembleWat, enableRelaxedSimd, heapMemory, WasmBackendLike, WasmModuleLike } from './wasm-assemble';
import { fusedModule, FusedExports } from './wasm-fused-wat';
import { GEMM_NR, gemmWat } from './wasm-gemm-wat';

const MR = 4;

interface GemmExports {
  packA(src: number, si: number, sp: number, len: number, k: number, dst: number): void;
  packB(src: number, si: number, sp: number, len: number, k: number, dst: number): void;
  gemm(
    pa: number,
    ai: number,
    ap: number,
    apk: number,
    pb: number,
    sb: number,
    bcol: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    q0: number,
    q1: number,
    tmp: number,
  ): void;
}

/** One product: C[b] = op(A[b]) · op(B[b]) for b < batch; byte offsets and element strides. */
interface Job {
  batch: number;
  m: number;
  n: number;
  k: number;
  a: number;
  aBatch: number; // bytes between A's batch items (0: broadcast)
  ai: number; // A element (i, p) at a + i*ai + p*ap (bytes)
  ap: number;
  b: number;
  bBatch: number;
  bj: number; // B element (p, j) at b + j*bj + p*bp
  bp: number;
  c: number;
}

// Control block shared with the helper threads (Int32 slots). Work is handed out in chunks of
// A's row blocks through NEXT (compare-and-swap), so a thread the OS descheduled delays the job
// by one chunk at most: the others take the rest (a static split waited for the slowest thread,
// and on a loaded machine 2 threads ran 2–10x slower than 1).
//   caller, per job: wait until ACTIVE = 0 (helpers of the previous job are gone; params are
//   then free to overwrite), write the params, FIN = 0, NEXT = 0, SEQ += 1 and wake the helpers,
//   take chunks itself, wait until FIN = chunks, NEXT = CLOSED.
//   helper, per wake-up: ACTIVE += 1; unless NEXT = CLOSED read the params and take chunks;
//   ACTIVE -= 1. The params stay put while any helper is active, and the scratch buffers the
//   job frees are touched only inside a chunk, all of which are done when FIN = chunks.
//   When the caller throws mid-job it closes NEXT and waits for the chunks already claimed
//   before the scratch is freed; a helper that throws sets ERR and the caller throws after the job.
const SEQ = 0;
const NEXT = 1;
const FIN = 2;
const ACTIVE = 3;
const STOP = 4; // non-zero: helpers exit at the next wake-up
const ERR = 5; // non-zero: a helper failed in this job
const HELPED = 6; // chunks the helpers computed (a count for tests)
const PARAMS = 7; // the job's fields, as FIELDS lists them
const CLOSED = -1;
const FIELDS = [
  ...(['batch', 'm', 'n', 'k', 'a', 'aBatch', 'ai', 'ap', 'b', 'bBatch', 'bj', 'bp', 'c'] as const),
  // pa: packed A (apk = 1) or unused; pb: packed B, pbItem bytes per batch item; tmp: 32 bytes a
  // thread; chunk: row blocks per chunk; chunks: how many.
  ...(['apk', 'pa', 'pb', 'pbItem', 'tmp', 'chunk', 'chunks', 'total'] as const),
  // op: 0 gemm, else a fused kernel (FUSED_OPS) over x = a, dy or β = b, γ = ap, out = c, on m
  // elements (gelu) or m rows of n (LayerNorm); epsBits: LayerNorm's eps as float32 bits.
  ...(['op', 'epsBits'] as const),
];
const FIELD_LIST = FIELDS as readonly string[];
type Params = Record<(typeof FIELDS)[number], number>;

// Fused kernels run by the same threads (op codes in the params) and the elements per work unit
// of gelu (a multiple of 4, as its SIMD loop needs); LayerNorm's unit is a row.
export const OP_GELU = 1;
export const OP_GELU_GRAD = 2;
export const OP_LAYER_NORM = 3;
export const OP_LAYER_NORM_GRAD = 4;
const ELEMENT_CHUNK = 4096;

// Items [lo, hi) of the batch·blocks list of A's row blocks (MR rows each): packs them when A is
// packed and computes their rows of C against packed B; t picks the thread's scratch block.
// Written once as source: the calling thread compiles it with `new Function` and the helpers
// evaluate the same text.
const RUN_RANGE = `
  if (p.op === ${OP_GELU} || p.op === ${OP_GELU_GRAD}) {
    const s = lo * ${ELEMENT_CHUNK}, e = Math.min(hi * ${ELEMENT_CHUNK}, p.m);
    if (p.op === ${OP_GELU}) f.geluNew(p.a + s * 4, p.c + s * 4, e - s);
    else f.geluNewGrad(p.a + s * 4, p.b + s * 4, p.c + s * 4, e - s);
    return;
  }
  if (p.op === ${OP_LAYER_NORM} || p.op === ${OP_LAYER_NORM_GRAD}) {
    const eps = new Float32Array(Int32Array.of(p.epsBits).buffer)[0];
    const o = lo * p.n * 4;
    if (p.op === ${OP_LAYER_NORM}) f.layerNorm(p.a + o, p.ap, p.b, p.c + o, hi - lo, p.n, eps);
    else f.layerNormGradX(p.a + o, p.b + o, p.ap, p.c + o, hi - lo, p.n, eps);
    return;
  }
  const MR = ${MR};
  const blocks = Math.ceil(p.m / MR);
  const paItem = blocks * MR * p.k * 4;
  const tmp = p.tmp + t * 32;
  for (let w = lo; w < hi; ) {
    const bi = Math.floor(w / blocks);
    const q0 = w - bi * blocks;
    const q1 = Math.min(blocks, q0 + (hi - w));
    const a = p.a + bi * p.aBatch;
    const c = p.c + bi * p.m * p.n * 4;
    let pa = a, ai = p.ai, ap = p.ap;
    if (p.apk) {
      pa = p.pa + bi * paItem;
      g.packA(a + q0 * MR * p.ai, p.ai, p.ap, Math.min(p.m, q1 * MR) - q0 * MR, p.k, pa + q0 * MR * p.k * 4);
      ai = 4; ap = 4 * MR;
    }
    const pb = p.pb + (p.bBatch === 0 ? 0 : bi * p.pbItem);
    g.gemm(pa, ai, ap, p.apk, pb, 32, p.k * 4, c, p.n * 4, p.m, p.n, p.k, q0, q1, tmp);
    w += q1 - q0;
  }`;
// Takes chunks until none is left (the same text in every thread).
const TAKE_CHUNKS = `
  const total = p.total;
  for (;;) {
    const w = Atomics.load(ctl, ${NEXT});
    if (w === ${CLOSED} || w >= p.chunks) break;
    if (Atomics.compareExchange(ctl, ${NEXT}, w, w + 1) !== w) continue;
    try {
      runRange(g, f, p, w * p.chunk, Math.min(total, (w + 1) * p.chunk), t);
      if (t !== 0) Atomics.add(ctl, ${HELPED}, 1);
    } finally {
      Atomics.add(ctl, ${FIN}, 1);
      Atomics.notify(ctl, ${FIN});
    }
  }`;
type RunRange = (g: GemmExports, f: FusedExports, p: Params, lo: number, hi: number, t: number) => void;
const runRange = new Function('g', 'f', 'p', 'lo', 'hi', 't', RUN_RANGE) as RunRange;
const takeChunks = new Function('runRange', 'ctl', 'g', 'f', 'p', 't', TAKE_CHUNKS) as (
  r: RunRange,
  ctl: Int32Array,
  g: GemmExports,
  f: FusedExports,
  p: Params,
  t: number,
) => void;

// The helper threads' program: the same module on the same memory, woken by SEQ.
const HELPER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, fusedModule, memory, control, t, fields } = workerData;
const g = new WebAssembly.Instance(module, { env: { memory } }).exports;
const f = new WebAssembly.Instance(fusedModule, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const runRange = new Function('g', 'f', 'p', 'lo', 'hi', 't', ${JSON.stringify(RUN_RANGE)});
const takeChunks = new Function('runRange', 'ctl', 'g', 'f', 'p', 't', ${JSON.stringify(TAKE_CHUNKS)});
parentPort.postMessage({ ready: true });
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  if (Atomics.load(ctl, ${STOP}) !== 0) break;
  Atomics.add(ctl, ${ACTIVE}, 1);
  try {
    if (Atomics.load(ctl, ${NEXT}) !== ${CLOSED}) {
      const p = {};
      fields.forEach((f, i) => (p[f] = ctl[${PARAMS} + i] >>> 0));
      takeChunks(runRange, ctl, g, f, p, t);
    }
  } catch (e) {
    Atomics.store(ctl, ${ERR}, 1);
    parentPort.postMessage({ error: String((e && e.stack) || e) });
  } finally {
    Atomics.sub(ctl, ${ACTIVE}, 1);
    Atomics.notify(ctl, ${ACTIVE});
  }
}
`;

export interface WasmGemmInfo {
  fma: boolean;
  threads: number;
}

class Gemm {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * (PARAMS + FIELDS.length)));
  private readonly helpers: Worker[] = [];
  /** Set when a helper thread died or failed to start: the pool then runs on the caller alone. */
  private broken: string | undefined;
  private closing = false;
  /** Resolves when every helper has instantiated the modules (or the pool broke). */
  readonly ready: Promise<void>;

  private readonly g: GemmExports;
  private readonly f: FusedExports;

  constructor(
    readonly info: WasmGemmInfo,
    module: WebAssembly.Module,
    fusedModule: WebAssembly.Module,
    memory: WebAssembly.Memory,
  ) {
    this.g = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
    this.f = new WebAssembly.Instance(fusedModule, { env: { memory } }).exports as unknown as FusedExports;
    Atomics.store(this.control, NEXT, CLOSED);
    const started: Promise<void>[] = [];
    for (let t = 1; t < info.threads; t++) {
      const w = new Worker(HELPER_SOURCE, {
        eval: true,
        workerData: { module, fusedModule, memory, control: this.control.buffer, t, fields: FIELD_LIST },
      });
      started.push(
        new Promise<void>((resolve) => {
          w.on('message', (m: { ready?: boolean; error?: string }) => {
            // Referenced until it is up (an await on `ready` must keep the process alive), then not:
            // an idle pool must not hold the event loop.
            if (m.ready) {
              w.unref();
              resolve();
            } else console.error(`wasm gemm helper ${t}: ${m.error}`);
          });
          w.on('error', (e) => {
            this.broken = `helper ${t}: ${(e as Error).message}`;
            w.unref();
            resolve();
          });
          w.on('exit', () => {
            if (!this.closing) this.broken ??= `helper ${t} exited`;
            resolve();
          });
        }),
      );
      this.helpers.push(w);
    }
    this.ready = Promise.all(started).then(() => undefined);
  }

  /** Chunks the helper threads computed so far (tests check the pool is used). */
  helperChunks(): number {
    return Atomics.load(this.control, HELPED);
  }

  run(job: Job, wasm: WasmModuleLike): void {
    const { batch, m, n, k } = job;
    const blocks = Math.ceil(m / MR);
    const bPanels = Math.ceil(n / GEMM_NR);
    // Packing A pays when its blocks are re-read for several column panels (n > 16). B is always
    // packed: read in place, its rows are n·4 bytes apart and the k-loop walks a page per step
    // (measured 13 against 31 GFLOP/s at k = n = 1024).
    const apk = bPanels > 2 ? 1 : 0;
    const pbItem = bPanels * GEMM_NR * k * 4;
    const bItems = job.bBatch === 0 ? 1 : batch;
    const paBytes = apk ? batch * blocks * MR * k * 4 : 0;
    const bytes = paBytes + bItems * pbItem + 32 * this.info.threads + 16;
    const base = wasm._malloc(bytes) >>> 0;
    if (base === 0) throw new Error(`wasm gemm: out of memory for ${bytes} bytes of packed operands`);
    const pa = (base + 15) & ~15;
    const pb = pa + paBytes;
    const tmp = pb + bItems * pbItem;
    try {
      for (let bi = 0; bi < bItems; bi++) this.g.packB(job.b + bi * job.bBatch, job.bj, job.bp, n, k, pb + bi * pbItem);
      const total = batch * blocks;
      this.dispatch({ ...job, apk, pa, pb, pbItem, tmp, chunk: 0, chunks: 0, total, op: 0, epsBits: 0 });
    } finally {
      wasm._free(base);
    }
  }

  /**
   * A fused kernel over all threads: gelu on `count` elements of x (and dy) into out, LayerNorm on
   * `rows` rows of `d` (x, β or dy, γ).
   */
  fused(op: number, x: number, second: number, gamma: number, out: number, rows: number, d: number, eps = 0): void {
    const layerNorm = op === OP_LAYER_NORM || op === OP_LAYER_NORM_GRAD;
    const total = layerNorm ? rows : Math.ceil(rows / ELEMENT_CHUNK);
    const epsBits = new Int32Array(Float32Array.of(eps).buffer)[0];
    const zero = { batch: 0, k: 0, aBatch: 0, ai: 0, bBatch: 0, bj: 0, bp: 0, apk: 0, pa: 0, pb: 0, pbItem: 0, tmp: 0 };
    this.dispatch({ ...zero, op, a: x, b: second, ap: gamma, c: out, m: rows, n: d, epsBits, chunk: 0, chunks: 0, total });
  }

  /** Runs p's `total` work units: on this thread alone, or in chunks shared with the helpers. */
  private dispatch(p: Params): void {
    // About 4 chunks a thread: small enough to even out, big enough that the claims are rare.
    p.chunk = Math.max(1, Math.ceil(p.total / (4 * this.info.threads)));
    p.chunks = Math.ceil(p.total / p.chunk);
    if (this.helpers.length === 0 || this.broken !== undefined || p.chunks === 1) {
      runRange(this.g, this.f, p, 0, p.total, 0);
      return;
    }
    const ctl = this.control;
    for (let a = Atomics.load(ctl, ACTIVE); a !== 0; a = Atomics.load(ctl, ACTIVE)) this.wait(ACTIVE, a);
    FIELDS.forEach((f, i) => (ctl[PARAMS + i] = p[f] | 0));
    Atomics.store(ctl, FIN, 0);
    Atomics.store(ctl, ERR, 0);
    Atomics.store(ctl, NEXT, 0);
    Atomics.add(ctl, SEQ, 1);
    Atomics.notify(ctl, SEQ);
    try {
      takeChunks(runRange, ctl, this.g, this.f, p, 0);
    } finally {
      // No new claims; the chunks already claimed finish before the caller frees their scratch.
      const claimed = Atomics.exchange(ctl, NEXT, CLOSED);
      const target = Math.min(claimed === CLOSED ? p.chunks : claimed, p.chunks);
      for (let f = Atomics.load(ctl, FIN); f < target; f = Atomics.load(ctl, FIN)) this.wait(FIN, f);
    }
    if (Atomics.load(ctl, ERR) !== 0) throw new Error('wasm gemm: a helper thread failed in this job (its error is logged above)');
  }

  /** Atomics.wait that gives up when a helper died (its claimed chunk would never finish). */
  private wait(slot: number, value: number): void {
    Atomics.wait(this.control, slot, value, 1000);
    if (this.broken !== undefined) throw new Error(`wasm gemm: ${this.broken}`);
  }

  /** Stops the helper threads. */
  close(): void {
    this.closing = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    for (const w of this.helpers) void w.terminate();
    this.helpers.length = 0;
  }
}

const compiled = new Map<string, { bytes: Uint8Array<ArrayBuffer>; fma: boolean }>();

async function assemble(fma: boolean, shared: boolean): Promise<Uint8Array<ArrayBuffer>> {
  return assembleWat('gemm.wat', gemmWat({ mr: MR, fma, shared }), { simd: true, relaxed_simd: fma, threads: shared });
}

/** The module's bytes for this memory kind: the FMA build when asked and this V8 validates it. */
async function gemmBytes(shared: boolean, wantFma: boolean): Promise<{ bytes: Uint8Array<ArrayBuffer>; fma: boolean }> {
  const key = `${shared}:${wantFma}`;
  let entry = compiled.get(key);
  if (entry === undefined) {
    if (wantFma) enableRelaxedSimd();
    const fmaBytes = wantFma ? await assemble(true, shared) : undefined;
    entry =
      fmaBytes !== undefined && WebAssembly.validate(fmaBytes)
        ? { bytes: fmaBytes, fma: true }
        : { bytes: await assemble(false, shared), fma: false };
    compiled.set(key, entry);
  }
  return entry;
}

let active: Gemm | undefined;
let activeBackend: object | undefined;
let fallback: KernelConfig | undefined;

type Attrs = { transposeA: boolean; transposeB: boolean };

function batchMatMul(args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: WasmBackendLike; attrs: Attrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const gemm = active;
  if (gemm === undefined || backend !== activeBackend || a.dtype !== 'float32' || b.dtype !== 'float32') {
    if (fallback === undefined) throw new Error('wasm gemm: no fallback BatchMatMul');
    return (fallback.kernelFunc as unknown as typeof batchMatMul)(args);
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [a0, a1] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const m = attrs.transposeA ? a1 : a0;
  const k = attrs.transposeA ? a0 : a1;
  const kb = attrs.transposeB ? b1 : b0;
  const n = attrs.transposeB ? b0 : b1;
  if (k !== kb) throw new Error(`BatchMatMul: inner dimensions ${k} and ${kb} of [${a.shape}] and [${b.shape}] differ`);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, ra - 2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, rb - 2));
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, ra - 2), b.shape.slice(0, rb - 2));
  const batch = tf.util.sizeFromShape(outBatch);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) {
    throw new Error(`BatchMatMul: cannot broadcast batch shapes [${a.shape}] and [${b.shape}]`);
  }
  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  if (batch * m * n === 0) return out;
  const offset = (t: TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  if (k === 0) {
    new Float32Array(heapMemory(backend.wasm)!.buffer, offset(out), batch * m * n).fill(0);
    return out;
  }
  try {
    gemm.run(
      {
        batch,
        m,
        n,
        k,
        a: offset(a),
        aBatch: batchA === 1 ? 0 : a0 * a1 * 4,
        // A stored [m, k] → (i, p) at i*k + p; transposed, stored [k, m] → p*m + i.
        ai: attrs.transposeA ? 4 : k * 4,
        ap: attrs.transposeA ? m * 4 : 4,
        b: offset(b),
        bBatch: batchB === 1 ? 0 : b0 * b1 * 4,
        // B stored [k, n] → (p, j) at p*n + j; transposed, stored [n, k] → j*k + p.
        bj: attrs.transposeB ? k * 4 : 4,
        bp: attrs.transposeB ? 4 : n * 4,
        c: offset(out),
      },
      backend.wasm,
    );
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return out;
}

export interface WasmGemmOptions {
  /** Helper threads + the caller; 1 for no helpers. Needs shared memory (tfjs's threaded build) above 1. */
  threads?: number;
  /** Use relaxed SIMD's FMA when this V8 has it (default true). */
  fma?: boolean;
}

/**
 * Registers our GEMM as the wasm backend's BatchMatMul (the kernel already registered there
 * stays as the fallback for non-float32 operands and other backend instances). Call after
 * `tf.setBackend('wasm')` and again after every re-initialisation of the backend.
 * Returns what runs, or undefined when the backend's memory is not reachable.
 */
export async function installWasmGemm(options: WasmGemmOptions = {}): Promise<WasmGemmInfo | undefined> {
  const backend = tf.findBackend('wasm') as unknown as WasmBackendLike | undefined;
  if (backend === undefined) throw new Error('installWasmGemm: the wasm backend is not initialised');
  const memory = heapMemory(backend.wasm);
  if (memory === undefined) return undefined;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const threads = shared ? Math.max(1, options.threads ?? 1) : 1;
  const { bytes, fma } = await gemmBytes(shared, options.fma ?? true);
  if (activeBackend !== backend || active?.info.threads !== threads || active.info.fma !== fma) {
    const module = new WebAssembly.Module(bytes);
    const fused = await fusedModule(shared);
    // No await between closing the old pool and installing the new one (two overlapping calls
    // would otherwise leave a pool's helpers running unreferenced).
    active?.close();
    active = new Gemm({ fma, threads }, module, fused, memory);
    activeBackend = backend;
    await active.ready;
  }
  const current = tf.getKernel('BatchMatMul', 'wasm');
  if (current?.kernelFunc !== (batchMatMul as unknown as KernelFunc)) {
    fallback = current;
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({
      kernelName: 'BatchMatMul',
      backendName: 'wasm',
      setupFunc: current?.setupFunc,
      disposeFunc: current?.disposeFunc,
      kernelFunc: batchMatMul as unknown as KernelFunc,
    });
  }
  return active.info;
}

/** The thread pool of the wasm backend instance `backend` (undefined when our GEMM is not installed for it). */
export function wasmPool(backend: object): Gemm | undefined {
  return activeBackend === backend ? active : undefined;
}

/** Puts the previous BatchMatMul back (benchmarks compare both in one process). */
export function uninstallWasmGemm(): void {
  const current = tf.getKernel('BatchMatMul', 'wasm');
  if (current?.kernelFunc === (batchMatMul as unknown as KernelFunc) && fallback !== undefined) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel(fallback);
  }
  active?.close();
  active = undefined;
  activeBackend = undefined;
}

// A cheaper dispatch path for tfjs-backend-webgpu 4.22 in Node. At d256 a LoRA step is host-bound:
// ~840 ops, each paying tfjs's bookkeeping plus several calls through dawn.node's N-API bindings,
// ~45–110 µs per op on the H200 host (bench/engine-vs-torch.bench.ts --profile, "host" rows).
// tfjs's recordAndSubmit makes, for every dispatch: a new uniform buffer taken from the pool and
// filled with its own queue.writeBuffer, a fresh `getBindGroupLayout(0)` wrapper, then the bind
// group and the three pass calls. This path keeps the same uniforms (same layout, same values)
// but packs the uniforms of a whole submit batch into one buffer at aligned offsets, written with
// one writeBuffer just before the batch is submitted, and looks each pipeline's layout up once.
// Queue order keeps it exact: the write is queued before the command buffer that reads it, and
// the pooled buffer goes back to the pool only once that command buffer is submitted.
// Off with the tfjs flag LORA_WEBGPU_PACKED_UNIFORMS=false (tfjs's own path runs then).
// Tried and dropped: caching bind groups by (pipeline, buffers, uniform slot). createBindGroup is
// the largest single cost (~25 µs, bench/dawn-calls.bench.ts), but tfjs's buffer pool hands a
// step's ops different buffers every step: on the d256 LoRA step 59 of ~400 dispatches per step
// found their bind group, and the lookups cost more than they saved.
import * as tf from '@tensorflow/tfjs-core';

const FLAG = 'LORA_WEBGPU_PACKED_UNIFORMS';
/** Bytes of one batch's uniform arena (a dispatch takes at most a few hundred). */
const ARENA_BYTES = 64 * 1024;

// Registered at import, so it can be set before the backend starts.
if (!(tf.env() as unknown as { flagRegistry: Record<string, unknown> }).flagRegistry[FLAG]) tf.env().registerFlag(FLAG, () => true);

type Uniform = { type: string; data: number[] };
interface ProgramLike {
  pipeline: unknown;
  pixelsOpType?: unknown;
  size?: boolean;
  outputShape: number[];
  outputComponent?: number;
  dispatch: [number, number, number];
}
interface TensorInfoLike {
  dataId: object;
  shape: number[];
}
interface PassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
}
export interface WebgpuDispatchInternals {
  device: {
    createBindGroup(d: { layout: unknown; entries: Array<{ binding: number; resource: unknown }> }): unknown;
    limits: { minUniformBufferOffsetAlignment: number };
  };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferLike, dataOffset: number, size: number): void };
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  activeTimers: unknown[] | null;
  commandEncoder: { beginComputePass(d: object): PassLike } | null;
  computePassEncoder: PassLike | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  uniformPendingDisposal: unknown[];
  tensorToBinding(t: TensorInfoLike): unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  recordAndSubmit(program: ProgramLike, output: TensorInfoLike, inputs: TensorInfoLike[], uniforms?: Uniform[]): void;
}

/** WGSL alignment of a uniform field of `n` 4-byte elements, as tfjs's makeUniforms computes it. */
function alignmentOf(n: number, previous: number): number {
  const a = n <= 1 ? 4 : n === 2 ? 8 : 16;
  return previous === 5 || previous === 6 ? 16 : a;
}

/** Offsets of each field and the struct's size: tfjs 4.22's makeUniforms layout, unchanged. */
export function uniformLayout(fields: Uniform[]): { offsets: number[]; size: number } {
  let offset = 0;
  let previous = 0;
  let maxAlign = 1;
  const offsets: number[] = [];
  for (const f of fields) {
    if (f.data.length === 0) f.data = [1];
    if (f.data.length > 6) throw new Error(`Unsupported ${f.data.length}D shape`);
    const align = alignmentOf(f.data.length, previous);
    if (align > maxAlign) maxAlign = align;
    offset = Math.ceil(offset / align) * align;
    previous = f.data.length;
    offsets.push(offset);
    offset += f.data.length * 4;
  }
  return { offsets, size: Math.ceil(offset / maxAlign) * maxAlign };
}

/** Replaces the backend's recordAndSubmit and submitQueue (see the file comment). */
export function installPackedUniforms(backend: WebgpuDispatchInternals): void {
  const originalRecord = backend.recordAndSubmit.bind(backend);
  const originalSubmit = backend.submitQueue.bind(backend);
  const align = Math.max(backend.device.limits.minUniformBufferOffsetAlignment || 256, 16);
  const usage = GPUBufferUsage.COPY_DST | GPUBufferUsage.UNIFORM;
  const host = new ArrayBuffer(ARENA_BYTES);
  const i32 = new Int32Array(host);
  const u32 = new Uint32Array(host);
  const f32 = new Float32Array(host);
  const layouts = new WeakMap<object, unknown>();
  let arena: unknown = null;
  let used = 0;

  const flush = (): void => {
    if (arena === null) return;
    if (used > 0) backend.queue.writeBuffer(arena, 0, host, 0, Math.ceil(used / 4) * 4);
    backend.uniformPendingDisposal.push(arena);
    arena = null;
    used = 0;
  };

  const pack = (fields: Uniform[]): { buffer: unknown; offset: number; size: number } => {
    const { offsets, size } = uniformLayout(fields);
    let base = Math.ceil(used / align) * align;
    if (arena === null || base + size > ARENA_BYTES) {
      flush();
      arena = backend.bufferManager.acquireBuffer(ARENA_BYTES, usage);
      base = 0;
    }
    for (let i = 0; i < fields.length; i++) {
      const { type, data } = fields[i];
      const view = type === 'int32' ? i32 : type === 'uint32' ? u32 : f32;
      view.set(data, (base + offsets[i]) / 4);
    }
    used = base + size;
    return { buffer: arena, offset: base, size };
  };

  backend.submitQueue = (): void => {
    flush();
    originalSubmit();
  };

  backend.recordAndSubmit = (program, output, inputs, programDefinedUniform) => {
    if (backend.activeTimers != null || program.pixelsOpType != null || !tf.env().getBool(FLAG)) {
      return originalRecord(program, output, inputs, programDefinedUniform);
    }
    if (program.pipeline instanceof Promise)
      throw new Error('Please call checkCompileCompletionAsync to ensure parallel compilation is done!');
    // The same fields in the same order as tfjs: NaN, Infinity, each buffer's shape and strides,
    // the program size, then the program's own.
    const fields: Uniform[] = [
      { type: 'float32', data: [NaN] },
      { type: 'float32', data: [Infinity] },
    ];
    for (const t of [...inputs, output])
      fields.push({ type: 'int32', data: t.shape }, { type: 'int32', data: tf.util.computeStrides(t.shape) });
    if (program.size) {
      const n = tf.util.sizeFromShape(program.outputShape);
      fields.push({ type: 'int32', data: [program.outputComponent ? n / program.outputComponent : n] });
    }
    if (programDefinedUniform) fields.push(...programDefinedUniform);
    for (const t of inputs) backend.commandQueueOwnedIds.add(t.dataId);
    backend.commandQueueOwnedIds.add(output.dataId);
    const pipeline = program.pipeline as { getBindGroupLayout(i: number): unknown };
    let layout = layouts.get(pipeline);
    if (layout === undefined) layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    const entries = [{ binding: 0, resource: backend.tensorToBinding(output) }];
    for (let i = 0; i < inputs.length; i++) entries.push({ binding: i + 1, resource: backend.tensorToBinding(inputs[i]) });
    entries.push({ binding: inputs.length + 1, resource: pack(fields) });
    const bindGroup = backend.device.createBindGroup({ layout, entries });
    backend.ensureCommandEncoderReady();
    if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder!.beginComputePass({});
    const pass = backend.computePassEncoder;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(program.dispatch[0], program.dispatch[1], program.dispatch[2]);
    backend.dispatchCountInPass++;
    if ((tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= backend.dispatchCountInPass) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
  };
}

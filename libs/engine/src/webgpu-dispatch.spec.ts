// The packed-uniform dispatch path must hand every shader the bytes tfjs's own makeUniforms would
// (same layout, same values), flush them before the batch is submitted, and never overlap two
// dispatches' uniforms. Checked against tfjs-backend-webgpu's makeUniforms itself, called on a
// recording stand-in for the device (this machine has no GPU; the device run of
// scripts/backend-parity.ts checks whole training steps).
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { installPackedUniforms, uniformLayout, type WebgpuDispatchInternals } from './webgpu-dispatch';

type Uniform = { type: string; data: number[] };

(globalThis as Record<string, unknown>).GPUBufferUsage ??= { COPY_DST: 8, UNIFORM: 64, STORAGE: 128, COPY_SRC: 4 };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as {
  WebGPUBackend: { prototype: { makeUniforms(this: unknown, u: Uniform[]): { size: number } } };
};

/** tfjs's bytes for these uniforms. */
function reference(fields: Uniform[]): Uint8Array {
  let bytes: Uint8Array | null = null;
  const fake = {
    uniformPendingDisposal: [] as unknown[],
    bufferManager: { acquireBuffer: () => ({}) },
    queue: {
      writeBuffer: (_b: unknown, _o: number, data: ArrayBuffer, off: number, size: number) =>
        (bytes = new Uint8Array(data.slice(off, off + size))),
    },
  };
  WebGPUBackend.prototype.makeUniforms.call(fake, structuredClone(fields));
  return bytes!;
}

interface Recorded {
  writes: Array<{ buffer: { id: number }; offset: number; bytes: Uint8Array }>;
  groups: Array<Array<{ binding: number; resource: { buffer?: { id: number }; offset?: number; size?: number } }>>;
  submits: number;
  events: string[];
}

function fakeBackend(): { backend: WebgpuDispatchInternals; rec: Recorded } {
  let nextId = 0;
  const rec: Recorded = { writes: [], groups: [], submits: 0, events: [] };
  const pass = { setPipeline: () => undefined, setBindGroup: () => undefined, dispatchWorkgroups: () => rec.events.push('dispatch') };
  const backend: WebgpuDispatchInternals = {
    device: {
      limits: { minUniformBufferOffsetAlignment: 256 },
      createBindGroup: (d) => {
        rec.groups.push(d.entries as Recorded['groups'][number]);
        return {};
      },
    },
    queue: {
      writeBuffer: (buffer, offset, data, off, size) => {
        rec.writes.push({ buffer: buffer as { id: number }, offset, bytes: new Uint8Array((data as ArrayBuffer).slice(off, off + size)) });
        rec.events.push('write');
      },
    },
    bufferManager: { acquireBuffer: () => ({ id: nextId++ }) },
    activeTimers: null,
    commandEncoder: null,
    computePassEncoder: null,
    dispatchCountInPass: 0,
    commandQueueOwnedIds: new WeakSet(),
    uniformPendingDisposal: [],
    tensorToBinding: (t) => ({ buffer: (t as { buffer?: object }).buffer ?? { id: -1 } }),
    ensureCommandEncoderReady() {
      this.commandEncoder ??= { beginComputePass: () => pass };
    },
    endComputePassEncoder() {
      this.computePassEncoder = null;
    },
    submitQueue() {
      rec.submits++;
      rec.events.push('submit');
      this.commandEncoder = null;
      this.dispatchCountInPass = 0;
      this.uniformPendingDisposal = [];
    },
    recordAndSubmit: () => {
      throw new Error('tfjs path taken');
    },
  };
  return { backend, rec };
}

const t = (shape: number[]) => ({ dataId: {}, shape });
const strides = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1)).slice(0, -1);

describe('webgpu packed uniforms', () => {
  const cases: Array<{ name: string; inputs: number[][]; output: number[]; size: boolean; own?: Uniform[] }> = [
    { name: 'binary op on 2-D tensors', inputs: [[1024, 256], [256]], output: [1024, 256], size: true },
    {
      name: 'matmul on 3-D tensors with its own uniforms',
      inputs: [
        [32, 128, 64],
        [32, 64, 128],
      ],
      output: [32, 128, 128],
      size: false,
      own: [
        { type: 'int32', data: [128, 64, 128] },
        { type: 'float32', data: [0.5] },
      ],
    },
    {
      name: 'scalars and a 5-D transpose',
      inputs: [[], [2, 3, 4, 5, 6]],
      output: [2, 3, 4, 6, 5],
      size: true,
      own: [
        { type: 'int32', data: [] },
        { type: 'float32', data: [1, 2] },
      ],
    },
    {
      name: 'a 6-D input followed by a 1-D field',
      inputs: [[2, 1, 2, 1, 2, 3]],
      output: [24],
      size: true,
      own: [{ type: 'uint32', data: [7] }],
    },
  ];

  beforeAll(() => tf.setBackend('cpu'));

  it.each(cases)('lays out $name exactly as tfjs makeUniforms', ({ inputs, output, size, own }) => {
    const fields: Uniform[] = [
      { type: 'float32', data: [NaN] },
      { type: 'float32', data: [Infinity] },
      ...[...inputs, output].flatMap((s) => [
        { type: 'int32', data: s },
        { type: 'int32', data: strides(s) },
      ]),
      ...(size ? [{ type: 'int32', data: [output.reduce((a, b) => a * b, 1)] }] : []),
      ...(own ?? []),
    ];
    const ref = reference(fields);
    const { size: ours } = uniformLayout(structuredClone(fields));
    expect(ours).toBe(ref.byteLength);

    const { backend, rec } = fakeBackend();
    installPackedUniforms(backend);
    const program = {
      pipeline: { getBindGroupLayout: () => ({}) },
      size,
      outputShape: output,
      dispatch: [1, 1, 1] as [number, number, number],
    };
    backend.recordAndSubmit(program, t(output), inputs.map(t), own && structuredClone(own));
    backend.endComputePassEncoder();
    backend.submitQueue();
    expect(rec.writes).toHaveLength(1);
    const binding = rec.groups[0].at(-1)!.resource;
    expect(binding.buffer).toBe(rec.writes[0].buffer);
    expect(binding.size).toBe(ref.byteLength);
    expect(rec.writes[0].bytes.slice(binding.offset, binding.offset! + binding.size!)).toEqual(ref);
  });

  it('packs a batch into one buffer at aligned, disjoint offsets, written once before the submit', () => {
    const { backend, rec } = fakeBackend();
    installPackedUniforms(backend);
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 15);
    const layoutCalls: number[] = [];
    const pipeline = { getBindGroupLayout: (i: number) => layoutCalls.push(i) };
    const shapes = Array.from({ length: 20 }, (_, i) => [i + 1, 8]);
    for (const s of shapes) backend.recordAndSubmit({ pipeline, size: true, outputShape: s, dispatch: [1, 1, 1] }, t(s), [t(s)]);
    backend.endComputePassEncoder();
    backend.submitQueue();
    // 15 dispatches then a submit, then 5 and the final submit; one write before each submit.
    expect(rec.events.join(',')).toBe(
      [...Array(15).fill('dispatch'), 'write', 'submit', ...Array(5).fill('dispatch'), 'write', 'submit'].join(','),
    );
    expect(layoutCalls).toEqual([0]); // the layout is asked once per pipeline
    const uniforms = rec.groups.map((g) => g.at(-1)!.resource);
    for (const [i, u] of uniforms.entries()) {
      expect(u.offset! % 256).toBe(0);
      const batch = i < 15 ? 0 : 1;
      expect(u.buffer).toBe(rec.writes[batch].buffer);
      const fields: Uniform[] = [
        { type: 'float32', data: [NaN] },
        { type: 'float32', data: [Infinity] },
        { type: 'int32', data: shapes[i] },
        { type: 'int32', data: [8] },
        { type: 'int32', data: shapes[i] },
        { type: 'int32', data: [8] },
        { type: 'int32', data: [shapes[i][0] * 8] },
      ];
      expect(rec.writes[batch].bytes.slice(u.offset, u.offset! + u.size!)).toEqual(reference(fields));
      if (i > 0 && i !== 15) expect(u.offset!).toBeGreaterThanOrEqual(uniforms[i - 1].offset! + uniforms[i - 1].size!);
    }
  });

  it('starts a new buffer when a batch outgrows one, and hands tfjs its own path when the flag is off', () => {
    const { backend, rec } = fakeBackend();
    installPackedUniforms(backend);
    tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1000);
    const pipeline = { getBindGroupLayout: () => ({}) };
    for (let i = 0; i < 300; i++)
      backend.recordAndSubmit({ pipeline, size: true, outputShape: [4], dispatch: [1, 1, 1] }, t([4]), [t([4])]);
    expect(rec.writes).toHaveLength(1); // 256 dispatches fill 64 KiB: the first buffer is written and a second taken
    backend.submitQueue();
    expect(rec.writes).toHaveLength(2);
    expect(rec.writes[0].buffer).not.toBe(rec.writes[1].buffer);
    expect(rec.writes[0].bytes.byteLength).toBe(
      255 * 256 +
        uniformLayout([
          { type: 'float32', data: [0] },
          { type: 'float32', data: [0] },
          { type: 'int32', data: [4] },
          { type: 'int32', data: [1] },
          { type: 'int32', data: [4] },
          { type: 'int32', data: [1] },
          { type: 'int32', data: [4] },
        ]).size,
    );
    tf.env().set('LORA_WEBGPU_PACKED_UNIFORMS', false);
    try {
      expect(() => backend.recordAndSubmit({ pipeline, size: true, outputShape: [4], dispatch: [1, 1, 1] }, t([4]), [t([4])])).toThrow(
        'tfjs path taken',
      );
    } finally {
      tf.env().set('LORA_WEBGPU_PACKED_UNIFORMS', true);
      tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 15);
    }
  });
});

// Host cost of the WebGPU calls one tfjs op makes through dawn.node, against a whole tfjs op
// measured in the same run (a small add on the webgpu backend, with and without our packed
// uniforms). A LoRA step at d256 is host-bound (~840 ops); this says which call the time goes to.
//   node dist/bench/dawn-calls.bench.js [--n 20000]
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { initBackend } from '@lora/engine';

interface Dev {
  createBuffer(d: object): unknown;
  createShaderModule(d: object): unknown;
  createComputePipeline(d: object): { getBindGroupLayout(i: number): unknown };
  createBindGroup(d: object): unknown;
  createCommandEncoder(): {
    beginComputePass(d?: object): {
      setPipeline(p: unknown): void;
      setBindGroup(i: number, g: unknown): void;
      dispatchWorkgroups(x: number): void;
      end(): void;
    };
    finish(): unknown;
  };
  queue: { writeBuffer(b: unknown, o: number, d: ArrayBufferView): void; submit(c: unknown[]): void; onSubmittedWorkDone(): Promise<void> };
}

function timeUs(n: number, f: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 200); i++) f(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f(i);
  return ((performance.now() - t0) * 1000) / n;
}

async function main(): Promise<void> {
  const o = new Command().option('--n <n>', 'calls per measurement', '20000').parse().opts();
  const n = +o.n;
  const info = await initBackend('webgpu');
  console.log(`${info.backend} on ${info.device}`);
  const device = (tf.backend() as unknown as { device: Dev }).device;
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const bufs = Array.from({ length: 3 }, () => device.createBuffer({ size: 4096, usage: storage }));
  const uni = device.createBuffer({ size: 64 * 1024, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const module = device.createShaderModule({
    code: `struct U { n : i32, s : f32 };
      @group(0) @binding(0) var<storage, read_write> out : array<f32>;
      @group(0) @binding(1) var<storage, read> a : array<f32>;
      @group(0) @binding(2) var<storage, read> b : array<f32>;
      @group(0) @binding(3) var<uniform> u : U;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g : vec3<u32>) {
        if (i32(g.x) < u.n) { out[g.x] = a[g.x] + b[g.x] * u.s; }
      }`,
  });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const layout = pipeline.getBindGroupLayout(0);
  const entries = (off: number) => [
    { binding: 0, resource: { buffer: bufs[0] } },
    { binding: 1, resource: { buffer: bufs[1] } },
    { binding: 2, resource: { buffer: bufs[2] } },
    { binding: 3, resource: { buffer: uni, offset: off, size: 8 } },
  ];
  const group = device.createBindGroup({ layout, entries: entries(0) });
  const small = new Float32Array(16);
  const rows: Array<[string, number]> = [];
  rows.push(['pipeline.getBindGroupLayout(0)', timeUs(n, () => pipeline.getBindGroupLayout(0))]);
  rows.push([
    'device.createBindGroup (3 storage + 1 uniform)',
    timeUs(n, (i) => device.createBindGroup({ layout, entries: entries((i % 256) * 256) })),
  ]);
  rows.push(['queue.writeBuffer (64 B)', timeUs(n, (i) => device.queue.writeBuffer(uni, (i % 256) * 256, small))]);
  {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    rows.push([
      'setPipeline + setBindGroup + dispatchWorkgroups',
      timeUs(n, () => {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(1);
      }),
    ]);
    pass.end();
    device.queue.submit([enc.finish()]);
  }
  rows.push([
    'encoder + pass + 15 dispatches + finish + submit, per dispatch',
    timeUs(n / 15, () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let k = 0; k < 15; k++) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(1);
      }
      pass.end();
      device.queue.submit([enc.finish()]);
    }) / 15,
  ]);
  await device.queue.onSubmittedWorkDone();
  // The reference: whole tfjs ops (engine bookkeeping + everything above), host time per op.
  const a = tf.randomNormal([64, 64]);
  const b = tf.randomNormal([64, 64]);
  const opUs = (packed: boolean) => {
    tf.env().set('LORA_WEBGPU_PACKED_UNIFORMS', packed);
    return timeUs(n, () => tf.add(a, b).dispose());
  };
  const tfjsOwn = opUs(false);
  const ours = opUs(true);
  await (tf.tidy(() => tf.add(a, b)) as tf.Tensor).data();
  console.log(`\n| call | µs per call | share of a tfjs op (tfjs's dispatch path, ${tfjsOwn.toFixed(1)} µs) |`);
  console.log('| --- | --- | --- |');
  for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(2)} | ${((100 * us) / tfjsOwn).toFixed(0)} % |`);
  console.log(`| tf.add [64,64], tfjs's recordAndSubmit | ${tfjsOwn.toFixed(2)} | 100 % |`);
  console.log(`| tf.add [64,64], packed uniforms (ours) | ${ours.toFixed(2)} | ${((100 * ours) / tfjsOwn).toFixed(0)} % |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

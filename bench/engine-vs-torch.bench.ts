// Our LoRA training step against PyTorch's on the same machine, in the same run: the same GPT-2
// shape, LoRA r=8 on c_attn + c_proj, Adam, fp32, random tokens. PyTorch runs first
// (bench/torch_step.py: transformers + PEFT), then ours on the chosen backend; the table prints
// ms/step, forward ms and the ratio ours / PyTorch. With --profile, one step's kernels are summed
// per kernel name (GPU time where the backend reports it, else wall time).
//
//   GPU:  node dist/bench/engine-vs-torch.bench.js --backend webgpu --torch-device cuda
//   CPU:  node dist/bench/engine-vs-torch.bench.js --backend wasm --threads 2 --torch-device cpu
//   defaults: --config 256x4x128x8 --config 1024x8x256x16 (D x LAYERS x SEQ x BATCH)
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { AdapterSet } from '@lora/adapters';
import { BackendPreference, Gpt2Config, Gpt2Model, initBackend, Rng, train, useFusedAttention } from '@lora/engine';
import { msPerCall } from './support/device-timing';

interface TorchResult {
  config: string;
  stepMs: number;
  forwardMs: number;
  trainable: number;
  torch: string;
  gpu: string | null;
  threads: number;
}

interface Shape {
  d: number;
  layers: number;
  seq: number;
  batch: number;
}

const parseShape = (s: string): Shape => {
  const [d, layers, seq, batch] = s.split('x').map(Number);
  if (![d, layers, seq, batch].every((n) => Number.isInteger(n) && n > 0))
    throw new Error(`--config ${s}: expected D x LAYERS x SEQ x BATCH`);
  return { d, layers, seq, batch };
};

function gptConfig(s: Shape, vocab: number): Gpt2Config {
  return {
    vocabSize: vocab,
    nPositions: s.seq,
    nEmbd: s.d,
    nLayer: s.layers,
    nHead: Math.max(4, s.d / 64),
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    tieWordEmbeddings: true,
  };
}

function runTorch(script: string, device: string, threads: number, configs: string[], steps: number): Map<string, TorchResult> {
  const args = [script, '--device', device, '--steps', String(steps), ...configs.flatMap((c) => ['--config', c])];
  if (threads) args.push('--threads', String(threads));
  const r = spawnSync(process.env.PYTHON ?? 'python3', args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`PyTorch reference failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const out = new Map<string, TorchResult>();
  for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const j = JSON.parse(line) as TorchResult;
    out.set(j.config, j);
  }
  return out;
}

/**
 * Host time per kernel over `steps` steps: wall time spent inside the engine's top-level
 * runKernel calls (tfjs bookkeeping + the backend's encoding; the GPU runs asynchronously), and
 * the rest of the step (autodiff, tidy, our JS) as "outside kernels".
 */
async function hostProfile(run: () => Promise<number>, steps: number) {
  const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
  const orig = engine.runKernel;
  const by = new Map<string, [number, number]>();
  let depth = 0;
  engine.runKernel = function (this: unknown, ...a: unknown[]) {
    if (depth > 0) return orig.apply(this, a);
    depth++;
    const t0 = performance.now();
    try {
      return orig.apply(this, a);
    } finally {
      depth--;
      const e = by.get(a[0] as string) ?? [0, 0];
      by.set(a[0] as string, [e[0] + performance.now() - t0, e[1] + 1]);
    }
  };
  let wall: number;
  try {
    wall = await run();
  } finally {
    engine.runKernel = orig;
  }
  const inKernels = [...by.values()].reduce((a, e) => a + e[0], 0);
  const rows = [...by.entries()].map(([n, [ms, c]]) => [n, ms / steps, c / steps] as [string, number, number]).sort((a, b) => b[1] - a[1]);
  return { wallMs: wall / steps, inKernelsMs: inKernels / steps, rows };
}

async function timeOurs(s: Shape, vocab: number, steps: number, profile: boolean) {
  const config = gptConfig(s, vocab);
  const model = Gpt2Model.random(config, { seed: 0 });
  const adapters = AdapterSet.attach(model, { targetModules: ['c_attn', 'c_proj'], config: { r: 8, alpha: 16 } });
  const rng = new Rng(1);
  const n = s.batch * s.seq;
  const batch = {
    inputs: Int32Array.from({ length: n }, () => rng.int(vocab)),
    targets: Int32Array.from({ length: n }, () => rng.int(vocab)),
  };
  const batcher = { next: () => batch, getState: () => ({ batchSize: s.batch, seqLen: s.seq }) };
  // Warm-up: shader compiles, buffer pools, and V8's optimisation of the step's JS (3 steps left the
  // first shape of a run ~20 % slow on the host-bound d256 step).
  await train({ model, adapters, batcher, steps: 10, lr: 1e-3, logEvery: 10 });
  const before = tf.memory().numTensors;
  const r = await train({ model, adapters, batcher, steps, lr: 1e-3, logEvery: steps });
  const leaked = tf.memory().numTensors - before;
  // Forward only (loss, no gradient), timed to a host read of the last loss.
  const inputs = tf.tensor2d(batch.inputs, [s.batch, s.seq], 'int32');
  const targets = tf.tensor2d(batch.targets, [s.batch, s.seq], 'int32');
  const forwardMs = await msPerCall(() => tf.tidy(() => model.loss(inputs, targets, { adapters })), steps, 2);
  // Host→device uploads and GPU buffer creations in one step (webgpu): each costs host time.
  let uploads = 0;
  let buffers = 0;
  if (profile && tf.getBackend() === 'webgpu') {
    const be = tf.backend() as unknown as {
      uploadToGPU(id: object): void;
      tensorMap: { get(id: object): { resource?: unknown; values?: unknown } };
      device: { createBuffer(d: unknown): unknown };
    };
    const up = be.uploadToGPU.bind(be);
    be.uploadToGPU = (id: object) => {
      const d = be.tensorMap.get(id);
      if (d.resource == null && d.values != null) uploads++;
      up(id);
    };
    const cb = be.device.createBuffer.bind(be.device);
    be.device.createBuffer = (d: unknown) => {
      buffers++;
      return cb(d);
    };
    await train({ model, adapters, batcher, steps: 1, lr: 1e-3, logEvery: 1 });
    console.log(`one step: ${uploads} uploads from the host, ${buffers} GPU buffers created`);
  }
  let host: Awaited<ReturnType<typeof hostProfile>> | null = null;
  if (profile) {
    host = await hostProfile(async () => {
      const t0 = performance.now();
      await train({ model, adapters, batcher, steps, lr: 1e-3, logEvery: steps });
      return performance.now() - t0;
    }, steps);
  }
  let kernels: Array<[string, number, number]> = [];
  let opsPerStep = 0;
  let matmuls: Array<[string, number, number]> = []; // every kernel, by operand shapes
  if (profile) {
    const info = await tf.profile(async () => {
      const res = await train({ model, adapters, batcher, steps: 1, lr: 1e-3, logEvery: 1 });
      return tf.scalar(res.finalTrainLoss);
    });
    const by = new Map<string, [number, number]>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = by.get(k.name) ?? [0, 0];
      by.set(k.name, [e[0] + ms, e[1] + 1]);
    }
    opsPerStep = info.kernels.length;
    // Kernels by operand shapes (matmul transposes are not in the profile; shapes show them).
    const mm = new Map<string, [number, number]>();
    for (const k of info.kernels) {
      const key = `${k.name} ${k.inputShapes.map((x) => `[${x}]`).join('·')}`;
      const e = mm.get(key) ?? [0, 0];
      mm.set(key, [e[0] + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0), e[1] + 1]);
    }
    matmuls = [...mm.entries()].map(([name, [ms, calls]]) => [name, ms, calls] as [string, number, number]).sort((a, b) => b[1] - a[1]);
    kernels = [...by.entries()].map(([name, [ms, calls]]) => [name, ms, calls] as [string, number, number]).sort((a, b) => b[1] - a[1]);
  }
  inputs.dispose();
  targets.dispose();
  const trainable = adapters.trainableParameterCount();
  adapters.dispose();
  model.dispose();
  return { stepMs: r.wallMs / steps, forwardMs, leaked, trainable, kernels, opsPerStep, matmuls, host };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--backend <name>', 'our backend: webgpu, wasm, cpu, auto', 'auto')
    .option('--threads <n>', 'CPU threads for wasm and PyTorch (0: library default)', '0')
    .option('--torch-device <dev>', 'cuda or cpu (none: skip the reference)', 'cuda')
    .option('--torch-script <path>', 'the PyTorch reference', path.join(__dirname, '..', '..', 'bench', 'torch_step.py'))
    .option('--config <DxLxTxB...>', 'shapes', ['256x4x128x8', '1024x8x256x16'])
    .option('--vocab <n>', 'vocabulary size', '256')
    .option('--steps <n>', 'timed steps', '10')
    .option('--profile', 'per-kernel totals of one step')
    .option('--order <ours-first|torch-first>', 'which side runs first', 'ours-first')
    .option('--fused-attention <on|off>', 'webgpu: attention as the fused kernels (on) or the composite ops (off)', 'on')
    .option('--flag <k=v...>', 'tfjs flags to set after the backend starts (e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=1000)', [])
    .parse()
    .opts();
  const configs = o.config as string[];
  const threads = +o.threads;
  // Which side runs first (--order): both orders gave the same spread on the H200; the first
  // command on a freshly started machine is the slow one (d256: 25 – 29 ms against 15 – 19).
  const reference = () =>
    o.torchDevice === 'none' ? new Map<string, TorchResult>() : runTorch(o.torchScript, o.torchDevice, threads, configs, +o.steps);
  let torch = o.order === 'torch-first' ? reference() : new Map<string, TorchResult>();
  const info = await initBackend(o.backend as BackendPreference, threads ? { wasmThreads: threads } : {});
  for (const kv of o.flag as string[]) {
    const [k, v] = kv.split('=');
    tf.env().set(k, v === 'true' ? true : v === 'false' ? false : Number.isNaN(+v) ? v : +v);
  }
  useFusedAttention(o.fusedAttention !== 'off');
  console.log(`ours: ${info.backend} on ${info.device}${info.threads ? `, ${info.threads} threads` : ''}`);
  const measured = new Map<string, Awaited<ReturnType<typeof timeOurs>>>();
  for (const c of configs) measured.set(c, await timeOurs(parseShape(c), +o.vocab, +o.steps, !!o.profile));
  if (o.order !== 'torch-first') torch = reference();
  const ref = [...torch.values()][0];
  if (ref) console.log(`reference: PyTorch ${ref.torch} on ${ref.gpu ?? `CPU, ${ref.threads} threads`} (${o.order})`);
  const rows: string[] = [];
  for (const c of configs) {
    const ours = measured.get(c)!;
    const t = torch.get(c);
    const ratio = t ? (ours.stepMs / t.stepMs).toFixed(2) : '-';
    rows.push(
      `| ${c} | ${ours.trainable} | ${ours.stepMs.toFixed(1)} | ${ours.forwardMs.toFixed(1)} | ${(ours.stepMs / ours.forwardMs).toFixed(1)} | ${t ? t.stepMs.toFixed(1) : '-'} | ${t ? t.forwardMs.toFixed(1) : '-'} | ${ratio} | ${ours.leaked} |`,
    );
    if (t && t.trainable !== ours.trainable)
      console.log(`WARNING ${c}: trainable parameters differ (ours ${ours.trainable}, PyTorch ${t.trainable})`);
    if (o.profile) {
      const total = ours.kernels.reduce((a, k) => a + k[1], 0);
      console.log(`\nprofile ${c}: ${ours.opsPerStep} kernels in one step, ${total.toFixed(1)} ms of kernel time`);
      for (const [name, ms, calls] of [...ours.kernels.slice(0, 15), ...ours.matmuls.slice(0, 30)])
        console.log(`  ${name.padEnd(44)} ${ms.toFixed(2).padStart(9)} ms  ${String(calls).padStart(5)} calls`);
      const h = ours.host;
      if (h) {
        console.log(
          `host time per step: ${h.wallMs.toFixed(1)} ms wall, ${h.inKernelsMs.toFixed(1)} ms inside kernel calls, ${(h.wallMs - h.inKernelsMs).toFixed(1)} ms outside`,
        );
        for (const [name, ms, calls] of h.rows.slice(0, 20))
          console.log(
            `  host ${name.padEnd(39)} ${ms.toFixed(2).padStart(9)} ms  ${calls.toFixed(0).padStart(5)} calls  ${((1000 * ms) / calls).toFixed(1).padStart(6)} µs/call`,
          );
      }
    }
  }
  console.log(
    `\n| D x L x T x B | trainable | ours ms/step | ours fwd ms | ours step/fwd | PyTorch ms/step | PyTorch fwd ms | ours / PyTorch | tensors leaked |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

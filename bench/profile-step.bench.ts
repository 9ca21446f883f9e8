// Per-kernel wall time of one training step (wasm kernels are synchronous, so wrapping each
// registered kernel with a timer measures it). Usage: node dist/bench/profile-step.bench.js [lora|pretrain]
import * as tf from '@tensorflow/tfjs-core';
import { AdapterSet } from '@lora/adapters';
import { Gpt2Config, Gpt2Model, initBackend, Rng, train } from '@lora/engine';

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'lora';
  const info = await initBackend((process.argv[3] as 'wasm') ?? 'wasm');
  const totals = new Map<string, { ms: number; calls: number }>();
  const callers = new Map<string, number>();
  const shapes = new Map<string, { ms: number; calls: number }>();
  for (const k of tf.getKernelsForBackend(info.backend)) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = inner(args);
        if (process.env.TRACE_KERNEL === k.kernelName) {
          const where = (new Error().stack ?? '')
            .split('\n')
            .filter((l) => /libs\/(engine|adapters)/.test(l))
            .slice(0, 2)
            .join(' <- ');
          callers.set(where, (callers.get(where) ?? 0) + 1);
        }
        if (process.env.SHAPES === k.kernelName) {
          const a = args as unknown as { inputs: Record<string, { shape: number[] }>; attrs: Record<string, unknown> };
          const key = `${Object.values(a.inputs)
            .map((t) => `[${t.shape}]`)
            .join(' ')} ${JSON.stringify(a.attrs)}`;
          const s = shapes.get(key) ?? { ms: 0, calls: 0 };
          s.ms += performance.now() - t0;
          s.calls++;
          shapes.set(key, s);
        }
        const e = totals.get(k.kernelName) ?? { ms: 0, calls: 0 };
        e.ms += performance.now() - t0;
        e.calls++;
        totals.set(k.kernelName, e);
        return out;
      },
    });
  }
  const config: Gpt2Config = {
    vocabSize: 256,
    nPositions: 128,
    nEmbd: +(process.argv[4] ?? 256),
    nLayer: 4,
    nHead: 4,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    tieWordEmbeddings: true,
  };
  const model = Gpt2Model.random(config, { trainable: mode === 'pretrain' });
  const adapters = mode === 'lora' ? AdapterSet.attach(model, { targetModules: ['c_attn'] }) : undefined;
  const rng = new Rng(1);
  const batch = +(process.argv[5] ?? 8);
  const batcher = {
    next: () => ({
      inputs: Int32Array.from({ length: batch * 128 }, () => rng.int(256)),
      targets: Int32Array.from({ length: batch * 128 }, () => rng.int(256)),
    }),
    getState: () => ({ batchSize: batch, seqLen: 128 }),
  };
  await train({ model, adapters, batcher, steps: 1, lr: 1e-3 });
  totals.clear();
  shapes.clear();
  const r = await train({ model, adapters, batcher, steps: 2, lr: 1e-3 });
  const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const sum = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(
    `${mode}: ${(r.wallMs / 2).toFixed(0)} ms/step, kernels ${(sum / 2).toFixed(0)} ms/step, ${rows.reduce((s, [, e]) => s + e.calls, 0) / 2} calls/step`,
  );
  for (const [where, n] of callers) console.log(`  ${process.env.TRACE_KERNEL} x${n / 3}: ${where}`);
  for (const [key, e] of [...shapes].sort((a, b) => b[1].ms - a[1].ms))
    console.log(`  ${(e.ms / 2).toFixed(1).padStart(7)} ms x${e.calls / 2} ${key}`);
  for (const [name, e] of rows.slice(0, 15))
    console.log(`  ${name.padEnd(16)} ${(e.ms / 2).toFixed(1).padStart(8)} ms ${String(e.calls / 2).padStart(5)} calls`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

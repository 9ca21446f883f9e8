// wasm matmul GFLOP/s on the shapes of a LoRA step at d256 (rows = batch 8 x seq 128), single-
// and multi-threaded: our GEMM (wasm-gemm.ts) against tfjs's XNNPACK call in the same run, each
// as a fraction of the 128-bit SIMD peak of the threads it runs on:
//   peak = threads x GHz x 2 FMA units x 4 lanes x 2 flops (an assumption, printed; GHz from
//   /proc/cpuinfo 'cpu MHz', the nominal clock: turbo makes the true peak higher).
// Usage (after the build): node dist/bench/wasm-peak.bench.js [--threads 1,2] [--reps 10]
// Each line prints ours / XNNPACK; the threaded lines also ours against ours on 1 thread.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { initBackend } from '@lora/engine';

// The forward products' B is a weight the training step keeps (tfjs's XNNPACK call caches its
// packed copy by buffer); every other B is a new tensor in each step, so the bench gives those a
// fresh B per call.
const SHAPES: [string, number[], number[], boolean, boolean][] = [
  ['[1024x256]x[256x768]', [1024, 256], [256, 768], false, false],
  ['[1024x256]x[256x1024]', [1024, 256], [256, 1024], false, false],
  ['[1024x768]x[256x768]^T (dX)', [1024, 768], [256, 768], false, true],
  ['[1024x256]^T x[1024x768] (dW)', [1024, 256], [1024, 768], true, false],
  ['[1024x1024]x[256x1024]^T (dX)', [1024, 1024], [256, 1024], false, true],
  ['[1024x256]^T x[1024x1024] (dW)', [1024, 256], [1024, 1024], true, false],
  ['[1024x8]^T x[1024x1024] (LoRA dB)', [1024, 8], [1024, 1024], true, false],
  ['[32x128x64]x[32x128x64]^T (QK^T)', [32, 128, 64], [32, 128, 64], false, true],
  ['[32x128x128]x[32x128x64] (PV)', [32, 128, 128], [32, 128, 64], false, false],
];

function cpuGhz(): number {
  try {
    const mhz = [...fs.readFileSync('/proc/cpuinfo', 'utf8').matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => +m[1]);
    if (mhz.length > 0) return Math.max(...mhz) / 1000;
  } catch {
    // not Linux
  }
  return (os.cpus()[0]?.speed ?? 0) / 1000;
}

async function gflops(sa: number[], sb: number[], ta: boolean, tb: boolean, reps: number): Promise<number> {
  const a = tf.randomUniform(sa, -1, 1, 'float32', 1);
  const b = tf.randomUniform(sb, -1, 1, 'float32', 2);
  const r = sa.length;
  const batch = sa.slice(0, -2).reduce((x, y) => x * y, 1);
  const m = ta ? sa[r - 1] : sa[r - 2];
  const k = ta ? sa[r - 2] : sa[r - 1];
  const n = tb ? sb[r - 2] : sb[r - 1];
  const fresh = ta || tb || sa.length > 2;
  const bs = Array.from({ length: reps }, (_, i) => (fresh ? tf.randomUniform(sb, -1, 1, 'float32', 3 + i) : b));
  tf.dispose(await tf.matMul(a, b, ta, tb).data()); // warm-up (XNNPACK packing of the kept B)
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const y = tf.matMul(a, bs[i], ta, tb);
    await y.data();
    y.dispose();
  }
  const s = (performance.now() - t0) / 1000 / reps;
  tf.dispose([a, b, ...(fresh ? bs : [])]);
  return (2 * batch * m * k * n) / s / 1e9;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--threads <list>', 'wasm thread counts', '1,2')
    .option('--reps <n>', 'matmuls timed per shape', '10')
    .parse()
    .opts();
  const ghz = cpuGhz();
  const perThread = ghz * 2 * 4 * 2;
  console.log(
    `peak (assumed) = threads x ${ghz.toFixed(2)} GHz x 2 FMA units x 4 fp32 lanes (128-bit SIMD) x 2 flops = threads x ${perThread.toFixed(1)} GFLOP/s (${os.cpus().length} cores here)`,
  );
  const single = new Map<string, number>();
  for (const threads of (o.threads as string).split(',').map(Number)) {
    const xnn = new Map<string, number>();
    await initBackend('wasm', { wasmThreads: threads, wasmGemm: false });
    for (const [name, sa, sb, ta, tb] of SHAPES) xnn.set(name, await gflops(sa, sb, ta, tb, +o.reps));
    const info = await initBackend('wasm', { wasmThreads: threads, wasmGemm: true });
    const peak = perThread * (info.threads ?? 1);
    if (threads === (o.threads as string).split(',').map(Number)[0]) console.log(`ours: ${info.device}`);
    for (const [name, sa, sb, ta, tb] of SHAPES) {
      const g = await gflops(sa, sb, ta, tb, +o.reps);
      const x = xnn.get(name)!;
      if (info.threads === 1) single.set(name, g);
      const ref = single.get(name);
      const vs1 = info.threads !== 1 && ref !== undefined ? `; ${(g / ref).toFixed(2)}x ours on 1 thread` : '';
      console.log(
        `threads=${info.threads} ${name.padEnd(36)} ours ${g.toFixed(1).padStart(6)} GFLOP/s = ${((100 * g) / peak).toFixed(0).padStart(3)}% of peak | XNNPACK ${x.toFixed(1).padStart(6)} = ${((100 * x) / peak).toFixed(0).padStart(3)}% | ours/XNNPACK ${(g / x).toFixed(2)}x${vs1}`,
      );
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

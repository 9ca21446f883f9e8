// wasm matmul GFLOP/s on the shapes of a LoRA step at d256 (rows = batch 8 x seq 128), single-
// and multi-threaded, as a fraction of this CPU's 128-bit SIMD peak:
//   peak = cores x GHz x 2 FMA units x 4 lanes x 2 flops (an assumption, printed; GHz from
//   /proc/cpuinfo 'cpu MHz'). Usage (after the build):
//   node dist/bench/wasm-peak.bench.js [--threads 1,2] [--reps 10]
// Each line prints its fraction of the peak; the threaded lines also their ratio to 1 thread.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { initBackend } from '@lora/engine';

const SHAPES: [string, number[], number[], boolean, boolean][] = [
  ['[1024x256]x[256x768]', [1024, 256], [256, 768], false, false],
  ['[1024x256]x[256x1024]', [1024, 256], [256, 1024], false, false],
  ['[1024x768]x[256x768]^T (dX)', [1024, 768], [256, 768], false, true],
  ['[1024x256]^T x[1024x768] (dW)', [1024, 256], [1024, 768], true, false],
  ['[1024x1024]x[256x1024]^T (dX)', [1024, 1024], [256, 1024], false, true],
  ['[1024x256]^T x[1024x1024] (dW)', [1024, 256], [1024, 1024], true, false],
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
  const m = ta ? sa[1] : sa[0];
  const k = ta ? sa[0] : sa[1];
  const n = tb ? sb[0] : sb[1];
  tf.dispose(await tf.matMul(a, b, ta, tb).data()); // warm-up (XNNPACK packing)
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const y = tf.matMul(a, b, ta, tb);
    await y.data();
    y.dispose();
  }
  const s = (performance.now() - t0) / 1000 / reps;
  tf.dispose([a, b]);
  return (2 * m * k * n) / s / 1e9;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--threads <list>', 'wasm thread counts', '1,2')
    .option('--reps <n>', 'matmuls timed per shape', '10')
    .parse()
    .opts();
  const cores = os.cpus().length;
  const ghz = cpuGhz();
  const peak = cores * ghz * 2 * 4 * 2;
  console.log(
    `peak (assumed) = ${cores} cores x ${ghz.toFixed(2)} GHz x 2 FMA units x 4 fp32 lanes (128-bit SIMD) x 2 flops = ${peak.toFixed(1)} GFLOP/s`,
  );
  const single = new Map<string, number>();
  for (const threads of (o.threads as string).split(',').map(Number)) {
    const info = await initBackend('wasm', { wasmThreads: threads });
    for (const [name, sa, sb, ta, tb] of SHAPES) {
      const g = await gflops(sa, sb, ta, tb, +o.reps);
      if (info.threads === 1) single.set(name, g);
      const ref = single.get(name);
      const vs1 = info.threads !== 1 && ref !== undefined ? `, ${(g / ref).toFixed(2)}x 1 thread` : '';
      console.log(
        `threads=${info.threads} ${name.padEnd(32)} ${g.toFixed(1).padStart(6)} GFLOP/s = ${((100 * g) / peak).toFixed(1)}% of peak${vs1}`,
      );
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

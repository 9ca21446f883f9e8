// Times training steps on one backend: full pretraining steps and LoRA steps, with the wasm
// matmul fix on and off. Usage (after `npx swc apps libs scripts bench -d dist`):
//   node dist/bench/train-step.bench.js [--backend wasm] [--d 256 --layers 4 --heads 4 --batch 8 --seq 128 --steps 3]
//     [--fix off,on] [--threads 1,2]
// Every line after the first prints its ratio to the first (the reference, same run).
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { AdapterSet } from '@lora/adapters';
import { Gpt2Config, Gpt2Model, initBackend, Rng, train } from '@lora/engine';

async function timeSteps(mode: 'pretrain' | 'lora', config: Gpt2Config, batch: number, seq: number, steps: number): Promise<number> {
  const model = Gpt2Model.random(config, { seed: 0, trainable: mode === 'pretrain' });
  const adapters = mode === 'lora' ? AdapterSet.attach(model, { targetModules: ['c_attn'], config: { r: 8, alpha: 16 } }) : undefined;
  const rng = new Rng(1);
  const batcher = {
    next: () => {
      const n = batch * seq;
      return {
        inputs: Int32Array.from({ length: n }, () => rng.int(config.vocabSize)),
        targets: Int32Array.from({ length: n }, () => rng.int(config.vocabSize)),
      };
    },
    getState: () => ({ batchSize: batch, seqLen: seq }),
  };
  await train({ model, adapters, batcher, steps: 1, lr: 1e-3, logEvery: 1 }); // warm-up (kernel setup, XNNPACK packing)
  const result = await train({ model, adapters, batcher, steps, lr: 1e-3, logEvery: steps });
  adapters?.dispose();
  model.dispose();
  return result.wallMs / steps;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--backend <name>', 'backend', 'wasm')
    .option('--d <n>', 'n_embd', '256')
    .option('--layers <n>', 'n_layer', '4')
    .option('--heads <n>', 'n_head', '4')
    .option('--vocab <n>', 'vocab size', '256')
    .option('--batch <n>', 'batch size', '8')
    .option('--seq <n>', 'sequence length', '128')
    .option('--steps <n>', 'timed steps', '3')
    .option('--modes <list>', 'pretrain,lora', 'lora,pretrain')
    .option('--fix <list>', 'wasm matmul fix settings to time', 'off,on')
    .option('--threads <list>', "wasm thread counts to time (numbers or 'auto')", '1')
    .parse()
    .opts();
  const config: Gpt2Config = {
    vocabSize: +o.vocab,
    nPositions: +o.seq,
    nEmbd: +o.d,
    nLayer: +o.layers,
    nHead: +o.heads,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    tieWordEmbeddings: true,
  };
  const fixes = o.backend === 'wasm' ? (o.fix as string).split(',') : ['-'];
  const threadCounts = o.backend === 'wasm' ? (o.threads as string).split(',').map((t) => (t === 'auto' ? 'auto' : +t)) : [1];
  const reference = new Map<string, number>();
  for (const fix of fixes) {
    for (const threads of threadCounts) {
      const info = await initBackend(o.backend, { wasmMatMulFix: fix === 'on', wasmThreads: threads });
      for (const mode of (o.modes as string).split(',') as ('pretrain' | 'lora')[]) {
        const ms = await timeSteps(mode, config, +o.batch, +o.seq, +o.steps);
        const ref = reference.get(mode);
        if (ref === undefined) reference.set(mode, ms);
        const ratio = ref === undefined ? 'reference' : `${(ref / ms).toFixed(2)}x the first line's speed`;
        console.log(
          `${info.backend} fix=${fix} threads=${info.threads ?? 1} ${mode} d${o.d} L${o.layers} B${o.batch} T${o.seq}: ${ms.toFixed(0)} ms/step, ${ratio} (tensors ${tf.memory().numTensors})`,
        );
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

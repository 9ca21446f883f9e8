// Loads the shipped base model, measures its held-out loss on Moby Dick, runs a short LoRA
// fine-tune and measures it again; prints the time per LoRA step.
//   node dist/bench/lora-moby-dick.bench.js [--model models/sotu-gpt2-small] [--steps 60] [--lr 1e-3]
import { Command } from 'commander';
import { AdapterSet } from '@lora/adapters';
import {
  evaluate,
  initBackend,
  loadCorpus,
  loadHfModel,
  splitDocuments,
  tokenizeDocuments,
  train,
  TrainBatcher,
  validationBatches,
} from '@lora/engine';

async function main(): Promise<void> {
  const int = (v: string) => parseInt(v, 10);
  const o = new Command()
    .option('--model <dir>', 'base model folder', 'models/sotu-gpt2-small')
    .option('--backend <name>', 'backend', 'wasm')
    .option('--steps <n>', 'LoRA steps', int, 60)
    .option('--lr <x>', 'learning rate', Number, 1e-3)
    .option('--r <n>', 'LoRA rank', int, 8)
    .option('--alpha <x>', 'LoRA alpha', Number, 16)
    .option('--targets <list>', 'target modules', 'c_attn')
    .option('--batch <n>', 'batch size', int, 8)
    .option('--seq <n>', 'sequence length', int, 128)
    .option('--eval-batches <n>', 'validation batches (0 = all)', int, 0)
    .option('--seed <n>', 'seed', int, 0)
    .parse()
    .opts();
  const info = await initBackend(o.backend);
  const { model, tokenizer } = await loadHfModel(o.model);
  const split = splitDocuments(await loadCorpus('stdlib:moby-dick'), { validationFraction: 0.1, seed: 0 });
  const trainTokens = tokenizeDocuments(split.train, tokenizer);
  const valTokens = tokenizeDocuments(split.validation, tokenizer);
  const val = validationBatches(valTokens, {
    batchSize: o.batch,
    seqLen: o.seq,
    maxBatches: o.evalBatches > 0 ? o.evalBatches : undefined,
  });
  console.log(
    `${info.backend}: ${o.model}, Moby Dick ${trainTokens.length} train / ${valTokens.length} validation tokens, ${val.length} eval batches`,
  );
  const before = await evaluate(model, val, undefined, { seqLen: o.seq });
  console.log(`base model held-out loss: ${before.toFixed(4)} nats/token`);

  const adapters = AdapterSet.attach(model, {
    targetModules: (o.targets as string).split(','),
    config: { r: o.r, alpha: o.alpha },
    seed: o.seed,
    baseModelNameOrPath: o.model,
  });
  const batcher = new TrainBatcher(trainTokens, { batchSize: o.batch, seqLen: o.seq, seed: o.seed });
  const stepTimes: number[] = [];
  let last = performance.now();
  const result = await train(
    { model, adapters, batcher, steps: o.steps, lr: o.lr, warmupSteps: Math.min(10, o.steps), schedule: 'constant', logEvery: 1 },
    {
      onLog: (e) => {
        const now = performance.now();
        stepTimes.push(now - last);
        last = now;
        if (e.step % 10 === 0) console.log(`step ${e.step}: loss ${e.loss.toFixed(4)}`);
      },
    },
  );
  const after = await evaluate(model, val, adapters, { seqLen: o.seq });
  const steady = stepTimes.slice(1).sort((a, b) => a - b);
  console.log(`LoRA r${o.r} on ${o.targets} (${adapters.trainableParameterCount()} params), ${result.steps} steps lr ${o.lr}`);
  console.log(`held-out loss: ${before.toFixed(4)} -> ${after.toFixed(4)} nats/token`);
  console.log(
    `time per LoRA step (batch ${o.batch}, seq ${o.seq}): median ${steady[Math.floor(steady.length / 2)].toFixed(0)} ms, mean ${(result.wallMs / result.steps).toFixed(0)} ms`,
  );
  adapters.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

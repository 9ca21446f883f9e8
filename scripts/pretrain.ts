// Pretrains the shipped default base model (a small byte-level GPT-2) from random init and
// writes a Hugging Face folder (config.json, model.safetensors) plus TRAINING.md.
//   npx swc apps libs scripts -d dist
//   node dist/scripts/pretrain.js --out models/sotu-gpt2-small --steps 1200
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import {
  ByteTokenizer,
  evaluate,
  Gpt2Config,
  Gpt2Model,
  initBackend,
  loadCorpus,
  saveHfModel,
  splitDocuments,
  tokenizeDocuments,
  train,
  TrainBatcher,
  validationBatches,
} from '@lora/engine';

interface Options {
  out: string;
  dataset: string;
  steps: number;
  dModel: number;
  layers: number;
  heads: number;
  nPositions: number;
  batch: number;
  seq: number;
  lr: number;
  warmup: number;
  minLrRatio: number;
  clip: number;
  seed: number;
  validationFraction: number;
  splitSeed: number;
  backend: 'auto' | 'wasm' | 'cpu';
  logEvery: number;
  evalEvery: number;
  evalBatches: number;
  finalEvalBatches: number;
  checkpointEvery: number;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got '${v}'`);
  return n;
};

function unigramEntropy(tokens: Int32Array, vocab: number): number {
  const counts = new Float64Array(vocab);
  for (const t of tokens) counts[t]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / tokens.length) * Math.log(c / tokens.length);
  return h;
}

async function main(): Promise<void> {
  const program = new Command()
    .name('pretrain')
    .description('Pretrain a byte-level GPT-2 from random init and save it as a Hugging Face folder.')
    .requiredOption('--out <dir>', 'output folder')
    .option('--dataset <source>', 'corpus (stdlib:sotu, stdlib:moby-dick, file:...)', 'stdlib:sotu')
    .option('--steps <n>', 'optimizer steps', int, 1200)
    .option('--d-model <n>', 'n_embd', int, 128)
    .option('--layers <n>', 'n_layer', int, 4)
    .option('--heads <n>', 'n_head', int, 4)
    .option('--n-positions <n>', 'n_positions (max sequence length)', int, 128)
    .option('--batch <n>', 'batch size', int, 16)
    .option('--seq <n>', 'sequence length', int, 128)
    .option('--lr <x>', 'peak learning rate', Number, 3e-3)
    .option('--warmup <n>', 'linear warmup steps', int, 100)
    .option('--min-lr-ratio <x>', 'cosine floor as a fraction of lr', Number, 0.1)
    .option('--clip <x>', 'global gradient-norm clip', Number, 1)
    .option('--seed <n>', 'init and data-order seed', int, 0)
    .option('--validation-fraction <x>', 'held-out share of documents', Number, 0.05)
    .option('--split-seed <n>', 'train/validation split seed', int, 0)
    .option('--backend <name>', 'auto | wasm | cpu', 'wasm')
    .option('--log-every <n>', 'log every n steps', int, 25)
    .option('--eval-every <n>', 'evaluate every n steps (on --eval-batches batches)', int, 250)
    .option('--eval-batches <n>', 'batches per periodic evaluation', int, 8)
    .option('--final-eval-batches <n>', 'batches for the final held-out loss (0 = all)', int, 0)
    .option('--checkpoint-every <n>', 'save the folder every n steps', int, 500);
  program.parse();
  const o = program.opts<Options>();
  const command = `node dist/scripts/pretrain.js ${process.argv.slice(2).join(' ')}`;

  const info = await initBackend(o.backend);
  console.log(`backend ${info.backend} (${info.device})`);

  const tokenizer = new ByteTokenizer();
  const docs = await loadCorpus(o.dataset);
  const split = splitDocuments(docs, { validationFraction: o.validationFraction, seed: o.splitSeed });
  const trainTokens = tokenizeDocuments(split.train, tokenizer);
  const valTokens = tokenizeDocuments(split.validation, tokenizer);
  console.log(
    `${o.dataset}: ${split.train.length} train docs (${trainTokens.length} bytes), ${split.validation.length} validation docs (${valTokens.length} bytes)`,
  );
  const batcher = new TrainBatcher(trainTokens, { batchSize: o.batch, seqLen: o.seq, seed: o.seed });
  const periodicVal = validationBatches(valTokens, { batchSize: o.batch, seqLen: o.seq, maxBatches: o.evalBatches });
  const finalVal = validationBatches(valTokens, {
    batchSize: o.batch,
    seqLen: o.seq,
    maxBatches: o.finalEvalBatches > 0 ? o.finalEvalBatches : undefined,
  });
  const unigram = unigramEntropy(trainTokens, tokenizer.vocabSize);

  const config: Gpt2Config = {
    vocabSize: tokenizer.vocabSize,
    nPositions: o.nPositions,
    nEmbd: o.dModel,
    nLayer: o.layers,
    nHead: o.heads,
    nInner: 4 * o.dModel,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    tieWordEmbeddings: true,
  };
  const model = Gpt2Model.random(config, { seed: o.seed, trainable: true });
  console.log(`model: ${model.parameterCount()} parameters; unigram byte entropy of the train split ${unigram.toFixed(3)} nats`);
  const initialEval = await evaluate(model, periodicVal, undefined, { seqLen: o.seq });
  console.log(`step 0: held-out loss ${initialEval.toFixed(4)} (${periodicVal.length} batches)`);

  const curve: string[] = [];
  const result = await train(
    {
      model,
      batcher,
      validation: periodicVal,
      steps: o.steps,
      lr: o.lr,
      warmupSteps: o.warmup,
      schedule: 'cosine',
      minLrRatio: o.minLrRatio,
      clipNorm: o.clip > 0 ? o.clip : undefined,
      logEvery: o.logEvery,
      evalEvery: o.evalEvery,
      checkpointEvery: o.checkpointEvery,
      seed: o.seed,
    },
    {
      onLog: (e) =>
        console.log(
          `step ${e.step}: loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.tokensPerSec.toFixed(0)} tok/s ${(e.elapsedMs / 1000).toFixed(0)} s`,
        ),
      onEval: (e) => {
        console.log(`step ${e.step}: held-out loss ${e.evalLoss.toFixed(4)} (${periodicVal.length} batches)`);
        curve.push(`| ${e.step} | ${e.evalLoss.toFixed(4)} |`);
      },
      onCheckpoint: async (e) => {
        if (!e.final) await saveHfModel(o.out, e.model, tokenizer);
      },
    },
  );
  const finalEval = await evaluate(model, finalVal, undefined, { seqLen: o.seq });
  console.log(`final held-out loss ${finalEval.toFixed(4)} over ${finalVal.length * o.batch * o.seq} tokens`);

  mkdirSync(o.out, { recursive: true });
  await saveHfModel(o.out, model, tokenizer);
  const sizeMb = (model.parameterCount() * 4) / 1e6;
  const md = `# sotu-gpt2-small

The project's default base model: a byte-level GPT-2 (no BPE files: the engine's tokenizer
loader falls back to the 256-id byte tokenizer) pretrained from random init on the State of the
Union addresses (\`${o.dataset}\`). Loads with \`loadHfModel\` and with transformers'
\`GPT2LMHeadModel.from_pretrained\`.

## Command

\`\`\`
npx swc apps libs scripts -d dist
${command}
\`\`\`

Deterministic from the seeds (init and data order \`--seed ${o.seed}\`, split \`--split-seed ${o.splitSeed}\`) on a given backend.

## Model

| field | value |
| --- | --- |
| n_embd / n_layer / n_head | ${config.nEmbd} / ${config.nLayer} / ${config.nHead} |
| n_positions | ${config.nPositions} |
| vocab | ${config.vocabSize} (bytes) |
| parameters | ${model.parameterCount()} (${sizeMb.toFixed(1)} MB as float32) |
| init | N(0, 0.02), c_proj weights × 1/sqrt(2·n_layer), zero biases, unit LayerNorm gains |

## Training

| field | value |
| --- | --- |
| data | ${split.train.length} train documents (${trainTokens.length} bytes); ${split.validation.length} held-out documents (${valTokens.length} bytes), validationFraction ${o.validationFraction} |
| steps | ${result.steps} × batch ${o.batch} × seq ${o.seq} (${((result.steps * o.batch * o.seq) / 1e6).toFixed(2)} M tokens, ${((result.steps * o.batch * o.seq) / trainTokens.length).toFixed(2)} epochs) |
| optimizer | Adam β 0.9/0.999, eps 1e-8, lr ${o.lr} with ${o.warmup} warmup steps then cosine to ${o.minLrRatio}·lr, clip ${o.clip} |
| backend | ${info.backend} (${info.device}) |
| wall time | ${(result.wallMs / 60000).toFixed(1)} min (${(result.wallMs / result.steps).toFixed(0)} ms/step) |
| throughput | ${result.tokensPerSec.toFixed(0)} tokens/s |

## Result (nats per byte)

| measure | value |
| --- | --- |
| unigram byte entropy of the train split | ${unigram.toFixed(3)} |
| held-out loss at init | ${initialEval.toFixed(4)} |
| final train loss (last batch) | ${result.finalTrainLoss.toFixed(4)} |
| final held-out loss (${finalVal.length} batches, ${finalVal.length * o.batch * o.seq} tokens) | ${finalEval.toFixed(4)} |

Held-out loss during training (${periodicVal.length} evenly spread batches):

| step | held-out loss |
| --- | --- |
${curve.join('\n')}
`;
  writeFileSync(join(o.out, 'TRAINING.md'), md);
  console.log(`wrote ${relative(process.cwd(), o.out)}: config.json, model.safetensors, TRAINING.md`);
  model.dispose();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

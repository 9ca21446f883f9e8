// Every adapter variant on the shipped benchmark (default base model, Moby Dick, fixed steps):
// trainable parameters, eval loss before/after and tokens/s, with ratios against plain LoRA
// measured in the same run.
//   node dist/bench/variants.bench.js [--steps 150] [--lr 2e-3] [--only lora,dora] [--markdown]
import { Command } from 'commander';
import { AdapterSet } from '@lora/adapters';
import { ALL_VARIANTS, knobAxes, TrainingSchema, type TrialHyperparams, type VariantName } from '@lora/contracts';
import { evaluate, initBackend, loadHfModel, train } from '@lora/engine';
import { loraDropProbe } from '../apps/worker/src/train/loradrop-probe';
import { prepareTrialData } from '../apps/worker/src/train/trial-data';
import { resolveVariant } from '../apps/worker/src/train/variant-config';

interface Row {
  variant: string;
  trainable: number;
  before: number;
  after: number;
  tokensPerSec: number;
  wallS: number;
}

async function main(): Promise<void> {
  const int = (v: string) => parseInt(v, 10);
  const o = new Command()
    .option('--model <dir>', 'base model folder', 'models/sotu-gpt2-small')
    .option('--backend <name>', 'backend', 'auto')
    .option('--steps <n>', 'training steps per variant', int, 150)
    .option('--lr <x>', 'learning rate (every variant)', Number, 2e-3)
    .option('--r <n>', 'rank (VeRA uses --vera-r)', int, 8)
    .option('--vera-r <n>', "VeRA's rank", int, 64)
    .option('--alpha <x>', 'alpha', Number, 16)
    .option('--targets <list>', 'target modules', 'c_attn,c_proj,c_fc')
    .option('--batch <n>', 'batch size', int, 8)
    .option('--seq <n>', 'sequence length', int, 128)
    .option('--eval-batches <n>', 'validation batches', int, 16)
    .option('--only <names>', 'comma-separated variants')
    .option('--markdown', 'print a markdown table')
    .parse()
    .opts<{
      model: string;
      backend: 'auto';
      steps: number;
      lr: number;
      r: number;
      veraR: number;
      alpha: number;
      targets: string;
      batch: number;
      seq: number;
      evalBatches: number;
      only?: string;
      markdown?: boolean;
    }>();
  const variants = (o.only ? o.only.split(',') : [...ALL_VARIANTS]) as VariantName[];
  const backend = await initBackend(o.backend);
  const training = TrainingSchema.parse({
    steps: o.steps,
    batchSize: o.batch,
    seqLen: o.seq,
    warmupSteps: Math.min(10, o.steps - 1),
    evalBatches: o.evalBatches,
    seed: 0,
  });
  console.error(
    `backend ${backend.backend} (${backend.device}); ${o.steps} steps × ${o.batch} × ${o.seq} tokens, lr ${o.lr}, targets ${o.targets}`,
  );
  const rows: Row[] = [];
  for (const variant of variants) {
    const { model, tokenizer } = await loadHfModel(o.model);
    const knobs = Object.fromEntries(Object.entries(knobAxes(variant, {})).map(([k, v]) => [k, (v as unknown[])[0]]));
    // Delta-LoRA's paper K is 500; scale it to the run so W does move within it.
    if (variant === 'deltalora') knobs.startStep = Math.floor(o.steps / 3);
    if (variant === 'adalora')
      Object.assign(knobs, {
        targetR: Math.max(1, Math.floor(o.r / 2)),
        tinit: Math.floor(o.steps / 10),
        tfinal: Math.floor(o.steps / 5),
        deltaT: 5,
      });
    const hp: TrialHyperparams = {
      variant,
      r: variant === 'vera' ? o.veraR : o.r,
      alpha: o.alpha,
      lr: o.lr,
      dropout: 0,
      targetModules: o.targets.split(','),
      rslora: false,
      knobs,
      training,
    };
    const data = await prepareTrialData(
      { datasetSource: 'stdlib:moby-dick', validationFraction: 0.1, splitSeed: 0, hyperparams: hp },
      tokenizer,
    );
    const t0 = performance.now();
    const selected = variant === 'loradrop' ? (await loraDropProbe(model, data, hp)).selected : undefined;
    const { variant: def, config } = resolveVariant(hp, { selected });
    const adapters = AdapterSet.attach(model, { variant: def, config, targetModules: hp.targetModules, seed: 0 });
    const before = await evaluate(model, data.validation, adapters, { seqLen: o.seq });
    const r = await train({
      model,
      adapters,
      batcher: data.batcher,
      steps: o.steps,
      lr: o.lr,
      warmupSteps: training.warmupSteps,
      schedule: 'cosine',
      clipNorm: 1,
      logEvery: o.steps,
    });
    const after = await evaluate(model, data.validation, adapters, { seqLen: o.seq });
    rows.push({
      variant,
      trainable: adapters.trainableParameterCount(),
      before,
      after,
      tokensPerSec: r.tokensPerSec,
      wallS: (performance.now() - t0) / 1000,
    });
    console.error(`${variant}: ${after.toFixed(4)} (${r.tokensPerSec.toFixed(0)} tok/s)`);
    adapters.dispose();
    model.dispose();
  }
  const ref = rows.find((r) => r.variant === 'lora') ?? rows[0];
  const fmt = (r: Row) => [
    r.variant,
    String(r.trainable),
    (r.trainable / ref.trainable).toFixed(3),
    r.before.toFixed(4),
    r.after.toFixed(4),
    (r.after - ref.after >= 0 ? '+' : '') + (r.after - ref.after).toFixed(4),
    r.tokensPerSec.toFixed(0),
    (r.tokensPerSec / ref.tokensPerSec).toFixed(2),
  ];
  const head = ['variant', 'trainable params', 'vs LoRA', 'eval loss before', 'eval loss after', 'after − LoRA', 'tokens/s', 'vs LoRA'];
  if (o.markdown) {
    console.log(`| ${head.join(' | ')} |\n| ${head.map(() => '---').join(' | ')} |`);
    for (const r of rows) console.log(`| ${fmt(r).join(' | ')} |`);
  } else {
    console.log(head.join('\t'));
    for (const r of rows) console.log(fmt(r).join('\t'));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

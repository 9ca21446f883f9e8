// Writes one PEFT folder per adapter variant for the reverse check (PEFT loads OUR exports):
// adapter_config.json + adapter_model.safetensors (AdapterSet.exportPeft) and ours.safetensors
// (input_ids [2, 8] I32, our logits [2, 8, V] F32), over the fixture base model.
//   npx swc apps libs scripts -d dist
//   node dist/scripts/make-peft-exports.js --out .carry/peft-exports [--steps 0] [--config '{"vera":{"r":8}}']
//   python3 libs/adapters/fixtures/peft/check_exports.py --exports .carry/peft-exports   (needs torch + peft)
// Variants: every VariantDefinition exported by @lora/adapters, found at run time. Zero-initialised
// trainable tensors (LoRA's B, VeRA's b, AdaLoRA's E) get seeded random values and nonzero 1-D
// trainable vectors (DoRA's m, VeRA's d) a random factor, so the adapters change the logits.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import * as adapters from '@lora/adapters';
import { AdapterSet, type VariantDefinition } from '@lora/adapters';
import { initBackend, loadHfModel, Rng, serializeSafetensors, train, type BatchSource } from '@lora/engine';

interface Options {
  out: string;
  base: string;
  seed: number;
  steps: number;
  lr: number;
  only?: string;
  config: string;
  targets: string;
}

const BATCH = 2;
const SEQ = 8;

/** Small shapes for every variant; only keys the variant's defaults have are applied. */
const COMMON_OVERRIDES: Record<string, unknown> = { r: 4, alpha: 8, initR: 6, targetR: 4, totalStep: 10, tinit: 2, tfinal: 2 };

function isVariant(v: unknown): v is VariantDefinition<object> {
  const d = v as Partial<VariantDefinition<object>> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.name === 'string' &&
    typeof d.defaults === 'object' &&
    typeof d.create === 'function' &&
    typeof d.peftConfig === 'function' &&
    typeof d.matchesPeft === 'function'
  );
}

function variants(): VariantDefinition<object>[] {
  const byName = new Map<string, VariantDefinition<object>>();
  for (const v of [...adapters.PEFT_VARIANTS, ...Object.values(adapters)]) if (isVariant(v) && !byName.has(v.name)) byName.set(v.name, v);
  return [...byName.values()];
}

function tokens(n: number, vocab: number, rng: Rng): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

/** All-zero trainable tensors get N(0, 0.3²); nonzero 1-D ones a factor in [0.5, 1.5). */
async function perturb(set: AdapterSet, rng: Rng): Promise<void> {
  for (const [, v] of set.namedTrainableVariables()) {
    const data = (await v.data()) as Float32Array;
    let next: Float32Array | null = null;
    if (data.every((x) => x === 0)) next = Float32Array.from(data, () => rng.normal(0, 0.3));
    else if (v.rank === 1) next = Float32Array.from(data, (x) => x * (0.5 + rng.next()));
    if (next) tf.tidy(() => v.assign(tf.tensor(next, v.shape, 'float32')));
  }
}

async function main(): Promise<void> {
  const opts = new Command()
    .requiredOption('--out <dir>', 'output folder, one subfolder per variant (e.g. .carry/peft-exports)')
    .option('--base <dir>', 'base HF folder', 'libs/adapters/fixtures/peft/base')
    .option('--seed <n>', 'seed of adapters, perturbation and input ids', Number, 1)
    .option('--steps <n>', 'training steps before export (exercises afterStep: Delta-LoRA, AdaLoRA)', Number, 0)
    .option('--lr <x>', 'learning rate for --steps', Number, 1e-2)
    .option('--only <names>', 'comma-separated variant names')
    .option('--config <json>', 'per-variant config overrides, {"<variant>": {...}}', '{}')
    .option('--targets <list>', 'target modules', 'c_attn,c_proj')
    .parse()
    .opts<Options>();
  await initBackend('cpu');
  const perVariant = JSON.parse(opts.config) as Record<string, Record<string, unknown>>;
  const targetModules = opts.targets.split(',');
  const only = opts.only?.split(',');
  const all = variants().filter((v) => !only || only.includes(v.name));
  console.log(`variants: ${all.map((v) => v.name).join(', ')}`);
  const failed: string[] = [];

  for (const variant of all) {
    const { model, config: modelConfig } = await loadHfModel(opts.base);
    const rng = new Rng(opts.seed);
    let set: AdapterSet | undefined;
    try {
      const config = Object.fromEntries(Object.entries(COMMON_OVERRIDES).filter(([k]) => k in variant.defaults));
      set = AdapterSet.attach(model, {
        variant,
        config: { ...config, ...(perVariant[variant.name] ?? {}) },
        targetModules,
        seed: opts.seed,
        baseModelNameOrPath: opts.base,
      }) as AdapterSet;
      await perturb(set, rng);
      if (opts.steps > 0) {
        const batch = { inputs: tokens(BATCH * SEQ, modelConfig.vocabSize, rng), targets: tokens(BATCH * SEQ, modelConfig.vocabSize, rng) };
        const batcher: BatchSource = { next: () => batch, getState: () => ({ batchSize: BATCH, seqLen: SEQ }) };
        await train({ model, adapters: set, batcher, steps: opts.steps, lr: opts.lr, logEvery: opts.steps });
      }
      const ids = tokens(BATCH * SEQ, modelConfig.vocabSize, rng);
      const x = tf.tensor2d(ids, [BATCH, SEQ], 'int32');
      const y = model.forward(x, { adapters: set });
      const plain = model.forward(x);
      const logits = (await y.data()) as Float32Array;
      const base = (await plain.data()) as Float32Array;
      tf.dispose([x, y, plain]);
      const { adapterConfig, safetensors } = await set.exportPeft();

      // Our own round trip, where fromPeft reads this variant (a PEFT-side failure is then ours to read).
      let roundTrip = 'n/a';
      if (adapters.PEFT_VARIANTS.some((v) => v.matchesPeft(adapterConfig))) {
        const again = AdapterSet.fromPeft(model, JSON.parse(JSON.stringify(adapterConfig)), safetensors);
        const x2 = tf.tensor2d(ids, [BATCH, SEQ], 'int32');
        const y2 = model.forward(x2, { adapters: again });
        const back = (await y2.data()) as Float32Array;
        roundTrip = Math.max(...back.map((v, i) => Math.abs(v - logits[i]))).toExponential(2);
        tf.dispose([x2, y2]);
        again.dispose();
      }

      const dir = join(opts.out, variant.name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(adapterConfig, null, 2) + '\n');
      writeFileSync(join(dir, 'adapter_model.safetensors'), safetensors);
      writeFileSync(
        join(dir, 'ours.safetensors'),
        serializeSafetensors(
          {
            input_ids: { dtype: 'I32', shape: [BATCH, SEQ], data: ids },
            logits: { dtype: 'F32', shape: [BATCH, SEQ, modelConfig.vocabSize], data: logits },
          },
          { format: 'pt' },
        ),
      );
      const effect = Math.max(...logits.map((v, i) => Math.abs(v - base[i])));
      console.log(
        `${variant.name}: wrote ${dir} (peft_type ${String(adapterConfig.peft_type)}, adapter effect ${effect.toExponential(2)}, ts round trip ${roundTrip})`,
      );
    } catch (err) {
      failed.push(variant.name);
      console.error(`${variant.name}: FAILED: ${(err as Error).message}`);
    } finally {
      set?.dispose();
      model.dispose();
    }
  }
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

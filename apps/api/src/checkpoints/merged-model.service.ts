// Builds "merged" downloads: the base model with a checkpoint's adapter folded into its weights,
// as a Hugging Face GPT-2 folder (config.json + model.safetensors [+ tokenizer files]).
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AdapterSet } from '@lora/adapters';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { initBackend, loadHfModel, serializeSafetensors, type SafetensorsTensor } from '@lora/engine';
import { resolveModelPath } from '@lora/orchestration';
import * as fs from 'node:fs';
import * as path from 'node:path';

const COPIED_FILES = ['config.json', 'vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export interface MergeInput {
  baseModelPath: string;
  adapterConfig: Record<string, unknown>;
  safetensors: Uint8Array;
}

@Injectable()
export class MergedModelService {
  private readonly log = new Logger(MergedModelService.name);
  // One merge at a time: tfjs state is process-global and a merge holds a whole model in memory.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Files of the merged model folder, by name. */
  merge(input: MergeInput): Promise<Record<string, Uint8Array>> {
    const run = this.queue.then(() => this.mergeNow(input));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async mergeNow(input: MergeInput): Promise<Record<string, Uint8Array>> {
    const t0 = Date.now();
    await initBackend('auto');
    const dir = resolveModelPath(input.baseModelPath, this.config.modelsDir);
    const { model } = await loadHfModel(dir);
    let adapters: AdapterSet | null = null;
    try {
      adapters = AdapterSet.fromPeft(model, input.adapterConfig, input.safetensors);
      const weights = await adapters.mergedWeights(model);
      const tensors: Record<string, SafetensorsTensor> = {};
      for (const [name, t] of weights) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
      const files: Record<string, Uint8Array> = { 'model.safetensors': serializeSafetensors(tensors, { format: 'pt' }) };
      for (const f of COPIED_FILES) {
        const p = path.join(dir, f);
        if (fs.existsSync(p)) files[f] = new Uint8Array(fs.readFileSync(p));
      }
      this.log.log({ baseModel: input.baseModelPath, ms: Date.now() - t0, tensors: weights.size }, 'merged model built');
      return files;
    } finally {
      adapters?.dispose();
      model.dispose();
    }
  }
}

// The built-in catalog: base models shipped under models/ and datasets shipped by npm packages.
// Shipped models are stored as `builtin:<name>` so every host resolves them in its own install.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_DATASETS, parseSafetensors, readGpt2Config } from '@lora/engine/io';

export const BUILTIN_PREFIX = 'builtin:';
export const DEFAULT_VALIDATION_FRACTION = 0.1;

export interface CatalogModel {
  name: string;
  path: string;
  architecture: string;
  config: Record<string, unknown>;
  paramCount: number;
  description?: string;
}

/** Absolute folder of a model path as stored in BaseModel.path. */
export function resolveModelPath(stored: string, modelsDir: string): string {
  return stored.startsWith(BUILTIN_PREFIX) ? path.join(modelsDir, stored.slice(BUILTIN_PREFIX.length)) : stored;
}

/** Reads one HF GPT-2 folder into a catalog entry (validates config.json, counts parameters). */
export function describeModelFolder(name: string, dir: string, storedPath = dir): CatalogModel {
  readGpt2Config(dir); // throws a clear error on a bad config
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'model.safetensors'))));
  let paramCount = 0;
  for (const t of weights.tensors.values()) paramCount += t.shape.reduce((a, b) => a * b, 1);
  let description: string | undefined;
  const notes = path.join(dir, 'TRAINING.md');
  if (fs.existsSync(notes))
    description = fs
      .readFileSync(notes, 'utf8')
      .split('\n')
      .find((l) => l.trim() && !l.startsWith('#'));
  return { name, path: storedPath, architecture: 'gpt2', config, paramCount, description };
}

/** Every folder under modelsDir holding config.json + model.safetensors. */
export function discoverShippedModels(modelsDir: string): CatalogModel[] {
  if (!fs.existsSync(modelsDir)) return [];
  return fs
    .readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .filter((d) => ['config.json', 'model.safetensors'].every((f) => fs.existsSync(path.join(modelsDir, d.name, f))))
    .map((d) => describeModelFolder(d.name, path.join(modelsDir, d.name), `${BUILTIN_PREFIX}${d.name}`));
}

export function builtinDatasets() {
  return BUILTIN_DATASETS.map((d) => ({
    name: d.name,
    source: d.source,
    format: d.format,
    description: d.description,
    validationFraction: DEFAULT_VALIDATION_FRACTION,
    splitSeed: 0,
  }));
}

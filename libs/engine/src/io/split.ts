// Deterministic document-level train/validation split: each document's side depends only on
// its id and the seed, so adding documents never moves existing ones across the split.
import type { Document } from './datasets';

export interface SplitOptions {
  /** Expected share of documents in validation, in [0, 1). Default 0.1. */
  validationFraction?: number;
  seed?: number;
}

export interface DocumentSplit {
  train: Document[];
  validation: Document[];
}

const utf8 = new TextEncoder();

/** FNV-1a over the id's UTF-8 bytes, seeded and finalised (murmur3 fmix32) into [0, 1). */
function score(id: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  for (const b of utf8.encode(id)) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * Splits documents into train and validation, keeping input order within each side. With
 * validationFraction > 0 and at least 2 documents, each side gets at least one document.
 */
export function splitDocuments(docs: readonly Document[], options: SplitOptions = {}): DocumentSplit {
  const { validationFraction = 0.1, seed = 0 } = options;
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new Error(`splitDocuments: validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`splitDocuments: seed must be a safe integer, got ${seed}`);
  }
  const seen = new Set<string>();
  for (const d of docs) {
    if (seen.has(d.id)) {
      throw new Error(`splitDocuments: document id "${d.id}" appears twice; ids must be unique so each document lands on one side`);
    }
    seen.add(d.id);
  }

  const scores = docs.map((d) => score(d.id, seed));
  const inValidation = scores.map((s) => s < validationFraction);
  if (validationFraction > 0 && docs.length >= 2) {
    const count = inValidation.filter(Boolean).length;
    // The fix-ups pick by score, so they too are stable under unrelated additions most of the time.
    if (count === 0) inValidation[argBy(scores, (a, b) => a < b)] = true;
    else if (count === docs.length) inValidation[argBy(scores, (a, b) => a > b)] = false;
  }
  const train: Document[] = [];
  const validation: Document[] = [];
  docs.forEach((d, i) => (inValidation[i] ? validation : train).push(d));
  return { train, validation };
}

function argBy(values: number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (better(values[i], values[best])) best = i;
  return best;
}

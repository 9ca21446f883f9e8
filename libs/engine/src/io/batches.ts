// Turns a token stream into next-token-prediction batches: random windows for training (seeded,
// resumable) and fixed non-overlapping windows for validation (so eval loss is reproducible).
import { Rng, type RngState } from './rng';

/** Row-major [batchSize * seqLen] ids; targets[i] is the token after inputs[i]. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
}

export interface ValidationBatch extends Batch {
  /** Number of target tokens in the batch (always batchSize * seqLen: no padding). */
  count: number;
}

export interface TrainBatcherOptions {
  batchSize: number;
  seqLen: number;
  seed: number;
}

/** JSON-serialisable; the shape fields let setState refuse a state from another configuration. */
export interface TrainBatcherState {
  rng: RngState;
  step: number;
  batchSize: number;
  seqLen: number;
  tokenCount: number;
}

function checkShape(tokens: Int32Array, batchSize: number, seqLen: number, who: string): void {
  if (!(tokens instanceof Int32Array)) {
    throw new Error(`${who}: tokens must be an Int32Array (use tokenizeDocuments)`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${who}: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new Error(`${who}: seqLen must be a positive integer, got ${seqLen}`);
}

function fillWindow(tokens: Int32Array, start: number, seqLen: number, batch: Batch, row: number): void {
  const offset = row * seqLen;
  batch.inputs.set(tokens.subarray(start, start + seqLen), offset);
  batch.targets.set(tokens.subarray(start + 1, start + seqLen + 1), offset);
}

export class TrainBatcher {
  private readonly batchSize: number;
  private readonly seqLen: number;
  private readonly rng: Rng;
  private stepCount = 0;

  constructor(
    private readonly tokens: Int32Array,
    options: TrainBatcherOptions,
  ) {
    const { batchSize, seqLen, seed } = options;
    checkShape(tokens, batchSize, seqLen, 'TrainBatcher');
    if (tokens.length < seqLen + 1) {
      throw new Error(
        `TrainBatcher: the training split has ${tokens.length} tokens but one window needs seqLen + 1 = ${seqLen + 1}; lower seqLen or use a larger dataset`,
      );
    }
    this.batchSize = batchSize;
    this.seqLen = seqLen;
    this.rng = new Rng(seed);
  }

  /** Batches drawn so far. */
  get step(): number {
    return this.stepCount;
  }

  /** A batch of uniformly random windows (with replacement across rows and steps). */
  next(): Batch {
    const size = this.batchSize * this.seqLen;
    const batch: Batch = { inputs: new Int32Array(size), targets: new Int32Array(size) };
    const starts = this.tokens.length - this.seqLen; // last start leaves room for the final target
    for (let row = 0; row < this.batchSize; row++) {
      fillWindow(this.tokens, this.rng.int(starts), this.seqLen, batch, row);
    }
    this.stepCount++;
    return batch;
  }

  getState(): TrainBatcherState {
    return {
      rng: this.rng.getState(),
      step: this.stepCount,
      batchSize: this.batchSize,
      seqLen: this.seqLen,
      tokenCount: this.tokens.length,
    };
  }

  setState(state: TrainBatcherState): void {
    const current = { batchSize: this.batchSize, seqLen: this.seqLen, tokenCount: this.tokens.length };
    const mismatch = (['batchSize', 'seqLen', 'tokenCount'] as const).filter((k) => state[k] !== current[k]);
    if (mismatch.length > 0) {
      const describe = (o: typeof current) => mismatch.map((k) => `${k} ${o[k]}`).join(', ');
      throw new Error(
        `TrainBatcher.setState: saved state has ${describe(state)} but this batcher has ${describe(current)}; resume with the same dataset, tokenizer, split and batch settings`,
      );
    }
    this.rng.setState(state.rng);
    this.stepCount = state.step;
  }
}

export interface ValidationBatchOptions {
  batchSize: number;
  seqLen: number;
  /** Cap on the number of batches; the windows used are then spread over the whole split. */
  maxBatches?: number;
}

/**
 * Fixed evaluation batches: non-overlapping windows of seqLen tokens (stride seqLen), only full
 * batches (a partial last batch is dropped). Throws when not even one full batch fits.
 */
export function validationBatches(tokens: Int32Array, options: ValidationBatchOptions): ValidationBatch[] {
  const { batchSize, seqLen, maxBatches } = options;
  checkShape(tokens, batchSize, seqLen, 'validationBatches');
  if (maxBatches !== undefined && (!Number.isInteger(maxBatches) || maxBatches < 1)) {
    throw new Error(`validationBatches: maxBatches must be a positive integer, got ${maxBatches}`);
  }
  const windows = tokens.length > 0 ? Math.floor((tokens.length - 1) / seqLen) : 0;
  const available = Math.floor(windows / batchSize);
  if (available === 0) {
    throw new Error(
      `validationBatches: the validation split has ${tokens.length} tokens but one batch needs batchSize * seqLen + 1 = ${batchSize * seqLen + 1}; lower batchSize or seqLen, or raise validationFraction`,
    );
  }
  const nBatches = maxBatches === undefined ? available : Math.min(available, maxBatches);
  // With a cap, take every stride-th window so the batches sample the whole split, not its start.
  const stride = Math.floor(windows / (nBatches * batchSize));
  const batches: ValidationBatch[] = [];
  for (let b = 0; b < nBatches; b++) {
    const size = batchSize * seqLen;
    const batch: ValidationBatch = { inputs: new Int32Array(size), targets: new Int32Array(size), count: size };
    for (let row = 0; row < batchSize; row++) {
      fillWindow(tokens, (b * batchSize + row) * stride * seqLen, seqLen, batch, row);
    }
    batches.push(batch);
  }
  return batches;
}

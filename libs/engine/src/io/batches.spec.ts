// Specs for batching: seeded determinism, shifted targets, resumable state, and fixed,
// non-overlapping, full-only validation batches.
import { TrainBatcher, validationBatches } from './batches';

const stream = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('TrainBatcher', () => {
  it('gives the same batches for the same seed and different ones for another seed', () => {
    const tokens = stream(1000);
    const a = new TrainBatcher(tokens, { batchSize: 4, seqLen: 16, seed: 1 });
    const b = new TrainBatcher(tokens, { batchSize: 4, seqLen: 16, seed: 1 });
    const c = new TrainBatcher(tokens, { batchSize: 4, seqLen: 16, seed: 2 });
    for (let i = 0; i < 5; i++) {
      const [x, y, z] = [a.next(), b.next(), c.next()];
      expect(x).toEqual(y);
      expect(x.inputs).not.toEqual(z.inputs);
    }
    expect(a.step).toBe(5);
  });

  it('makes flat [batchSize * seqLen] windows whose targets are the inputs shifted by one', () => {
    const tokens = stream(50);
    const batcher = new TrainBatcher(tokens, { batchSize: 3, seqLen: 8, seed: 0 });
    for (let s = 0; s < 20; s++) {
      const { inputs, targets } = batcher.next();
      expect(inputs.length).toBe(24);
      expect(targets.length).toBe(24);
      for (let row = 0; row < 3; row++) {
        const start = inputs[row * 8];
        for (let t = 0; t < 8; t++) {
          expect(inputs[row * 8 + t]).toBe(start + t); // contiguous window
          expect(targets[row * 8 + t]).toBe(start + t + 1); // next token
        }
        expect(start + 8).toBeLessThan(50);
      }
    }
  });

  it('reaches both ends of the stream', () => {
    const tokens = stream(10);
    const batcher = new TrainBatcher(tokens, { batchSize: 8, seqLen: 4, seed: 3 });
    const starts = new Set<number>();
    for (let s = 0; s < 50; s++) {
      const { inputs } = batcher.next();
      for (let r = 0; r < 8; r++) starts.add(inputs[r * 4]);
    }
    expect([...starts].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('resumes the same stream from a JSON-serialised state', () => {
    const tokens = stream(500);
    const opts = { batchSize: 2, seqLen: 10, seed: 11 };
    const original = new TrainBatcher(tokens, opts);
    original.next();
    original.next();
    const saved = JSON.parse(JSON.stringify(original.getState()));
    const expected = [original.next(), original.next()];

    const resumed = new TrainBatcher(tokens, opts);
    resumed.setState(saved);
    expect(resumed.step).toBe(2);
    expect([resumed.next(), resumed.next()]).toEqual(expected);

    const other = new TrainBatcher(tokens, { ...opts, seqLen: 12 });
    expect(() => other.setState(saved)).toThrow(/saved state has seqLen 10 but this batcher has seqLen 12/);
  });

  it('rejects a stream shorter than one window', () => {
    expect(() => new TrainBatcher(stream(8), { batchSize: 1, seqLen: 8, seed: 0 })).toThrow(
      /has 8 tokens but one window needs seqLen \+ 1 = 9/,
    );
    expect(() => new TrainBatcher(stream(8), { batchSize: 0, seqLen: 2, seed: 0 })).toThrow(/batchSize must be a positive integer/);
  });
});

describe('validationBatches', () => {
  it('uses non-overlapping stride-seqLen windows and drops the partial last batch', () => {
    // 4*5 = 20 windows would need 81 tokens; 78 tokens -> 19 windows -> 4 full batches of 4.
    const batches = validationBatches(stream(78), { batchSize: 4, seqLen: 4 });
    expect(batches).toHaveLength(4);
    const starts = batches.flatMap((b) => [0, 1, 2, 3].map((r) => b.inputs[r * 4]));
    expect(starts).toEqual(Array.from({ length: 16 }, (_, i) => i * 4));
    for (const b of batches) {
      expect(b.count).toBe(16);
      b.inputs.forEach((v, i) => expect(b.targets[i]).toBe(v + 1));
    }
  });

  it('is reproducible and spreads capped batches over the whole split', () => {
    const tokens = stream(1001);
    const a = validationBatches(tokens, { batchSize: 2, seqLen: 10, maxBatches: 5 });
    expect(a).toEqual(validationBatches(tokens, { batchSize: 2, seqLen: 10, maxBatches: 5 }));
    expect(a).toHaveLength(5);
    const starts = a.flatMap((b) => [b.inputs[0], b.inputs[10]]);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(10);
    expect(starts[0]).toBe(0);
    expect(starts[starts.length - 1]).toBeGreaterThan(850);
  });

  it('throws when not even one full batch fits', () => {
    expect(() => validationBatches(stream(32), { batchSize: 4, seqLen: 8 })).toThrow(
      /has 32 tokens but one batch needs batchSize \* seqLen \+ 1 = 33/,
    );
    expect(validationBatches(stream(33), { batchSize: 4, seqLen: 8 })).toHaveLength(1);
  });
});

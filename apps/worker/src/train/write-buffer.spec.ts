import type { MetricPointInput } from '@lora/db';
import { WriteBuffer } from './write-buffer';

const p = (step: number): MetricPointInput => ({ trialId: 't', step, split: 'train', name: 'loss', value: step });

describe('WriteBuffer', () => {
  it('batches points into few inserts, in order', async () => {
    const batches: number[][] = [];
    const repo = { insertBatch: jest.fn(async (b: MetricPointInput[]) => (batches.push(b.map((x) => x.step)), b.length)) };
    const buf = new WriteBuffer<MetricPointInput>((b) => repo.insertBatch(b), 10_000, 4);
    for (let i = 1; i <= 10; i++) buf.push(p(i));
    await buf.close();
    expect(batches).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10],
    ]);
  });

  it('keeps points across a failed insert and surfaces a persistent failure on close', async () => {
    let fail = true;
    const seen: number[] = [];
    const repo = {
      insertBatch: jest.fn(async (b: MetricPointInput[]) => {
        if (fail) throw new Error('db down');
        seen.push(...b.map((x) => x.step));
        return b.length;
      }),
    };
    const buf = new WriteBuffer<MetricPointInput>((b) => repo.insertBatch(b), 10_000, 100);
    buf.push(p(1));
    await buf.flush();
    buf.push(p(2));
    fail = false;
    await buf.close();
    expect(seen).toEqual([1, 2]);

    fail = true;
    const buf2 = new WriteBuffer<MetricPointInput>((b) => repo.insertBatch(b), 10_000, 100);
    buf2.push(p(3));
    await expect(buf2.close()).rejects.toThrow('db down');
  });
});

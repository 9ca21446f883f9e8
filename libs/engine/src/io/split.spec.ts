// Specs for the document split: full coverage without overlap, determinism, stability when
// documents are added, and the at-least-one-per-side guarantee.
import type { Document } from './datasets';
import { splitDocuments } from './split';

const docs = (n: number, prefix = 'doc'): Document[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, text: `text ${i}` }));

describe('splitDocuments', () => {
  it('covers every document exactly once and keeps input order', () => {
    const all = docs(200);
    const { train, validation } = splitDocuments(all, { validationFraction: 0.2, seed: 1 });
    const ids = [...train, ...validation].map((d) => d.id).sort();
    expect(ids).toEqual(all.map((d) => d.id).sort());
    expect(new Set(train.map((d) => d.id)).size + new Set(validation.map((d) => d.id)).size).toBe(200);
    expect(train.some((d) => validation.includes(d))).toBe(false);
    expect(validation.length).toBeGreaterThan(20);
    expect(validation.length).toBeLessThan(60);
    const pos = (d: Document) => all.indexOf(d);
    expect(train.map(pos)).toEqual(
      train
        .map(pos)
        .slice()
        .sort((a, b) => a - b),
    );
  });

  it('is deterministic per seed and changes with the seed', () => {
    const all = docs(100);
    const ids = (seed: number) => splitDocuments(all, { seed }).validation.map((d) => d.id);
    expect(ids(3)).toEqual(ids(3));
    expect(ids(3)).not.toEqual(ids(4));
  });

  it('does not move existing documents when new ones are added', () => {
    const before = splitDocuments(docs(100), { seed: 7 });
    const after = splitDocuments([...docs(100), ...docs(50, 'new')], { seed: 7 });
    const afterVal = new Set(after.validation.map((d) => d.id));
    for (const d of before.validation) expect(afterVal.has(d.id)).toBe(true);
    for (const d of before.train) expect(afterVal.has(d.id)).toBe(false);
  });

  it('puts at least one document on each side when there are two or more', () => {
    for (let seed = 0; seed < 20; seed++) {
      const tiny = splitDocuments(docs(2), { validationFraction: 0.01, seed });
      expect([tiny.train.length, tiny.validation.length]).toEqual([1, 1]);
      const big = splitDocuments(docs(3), { validationFraction: 0.99, seed });
      expect(big.train.length).toBeGreaterThanOrEqual(1);
      expect(big.validation.length).toBeGreaterThanOrEqual(1);
    }
    const one = splitDocuments(docs(1), { validationFraction: 0.5 });
    expect(one.train.length + one.validation.length).toBe(1);
    expect(splitDocuments(docs(10), { validationFraction: 0 }).validation).toEqual([]);
  });

  it('rejects bad options and duplicate ids', () => {
    expect(() => splitDocuments(docs(3), { validationFraction: 1 })).toThrow(/validationFraction must be in \[0, 1\)/);
    expect(() => splitDocuments([...docs(2), ...docs(1)])).toThrow(/"doc-0" appears twice/);
  });
});

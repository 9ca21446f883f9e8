// Specs for corpus loading: the stdlib datasets, plain-text chunking, JSONL parsing with
// line-numbered errors, and unknown sources.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_DATASETS, chunkText, loadCorpus } from './datasets';

describe('loadCorpus', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'corpus-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads moby-dick as 139 documents with unique ids', async () => {
    const docs = await loadCorpus('stdlib:moby-dick');
    expect(docs).toHaveLength(139);
    expect(new Set(docs.map((d) => d.id)).size).toBe(139);
    expect(docs[3].id).toBe('moby-dick/1');
    expect(docs[3].text).toMatch(/^Call me Ishmael\./);
  });

  it('loads sotu as 233 documents', async () => {
    const docs = await loadCorpus('stdlib:sotu');
    expect(docs).toHaveLength(233);
    expect(docs[0].id).toBe('sotu/1790-george-washington');
    expect(new Set(docs.map((d) => d.id)).size).toBe(233);
  });

  it('lists the built-in datasets with loadable sources', () => {
    expect(BUILTIN_DATASETS.map((d) => [d.name, d.source, d.format])).toEqual([
      ['moby-dick', 'stdlib:moby-dick', 'text'],
      ['sotu', 'stdlib:sotu', 'text'],
    ]);
  });

  it('splits a text file into blank-line chunks of at least ~2k characters', async () => {
    const paragraphs = Array.from({ length: 40 }, (_, i) => `Paragraph ${i}. ` + 'word '.repeat(60 + (i % 7) * 10).trim());
    const path = join(dir, 'book.txt');
    writeFileSync(path, paragraphs.join('\r\n\r\n\n') + '\n');
    const docs = await loadCorpus(`file:${path}`);
    expect(docs.length).toBeGreaterThan(3);
    for (const d of docs) expect(d.text.length).toBeGreaterThanOrEqual(2000);
    expect(docs.map((d) => d.id)).toEqual(docs.map((_, i) => `book.txt#${i}`));
    // Nothing lost: all paragraphs survive in order, separated by blank lines.
    expect(docs.map((d) => d.text).join('\n\n')).toBe(paragraphs.join('\n\n'));
    expect(await loadCorpus(`file://${path}`)).toEqual(docs);
  });

  it('keeps a short file as one document and cuts huge paragraphs on line breaks', () => {
    expect(chunkText('short\n\ntext', 'x')).toEqual([{ id: 'x#0', text: 'short\n\ntext' }]);
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
    const docs = chunkText(lines, 'big');
    expect(docs.length).toBeGreaterThan(5);
    expect(docs.map((d) => d.text).join('\n')).toBe(lines);
  });

  it('reads jsonl with text and optional id, skipping blank lines', async () => {
    const path = join(dir, 'data.jsonl');
    writeFileSync(path, '{"text":"one"}\n\n{"text":"two","id":"b"}\n{"text":"three","id":7}\n');
    expect(await loadCorpus(`file:${path}`)).toEqual([
      { id: 'data.jsonl:1', text: 'one' },
      { id: 'b', text: 'two' },
      { id: '7', text: 'three' },
    ]);
  });

  it.each([
    ['{"text":"ok"}\n{"text": 5}\n', /data-bad\.jsonl line 2: expected an object with a string "text" field/],
    ['{"text":"ok"}\n{"text":"a"}\n{oops}\n', /line 3: not valid JSON/],
    ['{"text":"a","id":"x"}\n{"text":"b","id":"x"}\n', /line 2: id "x" already used on line 1/],
    ['\n\n', /contains no text/],
  ])('names the bad line of a jsonl file (%#)', async (content, message) => {
    const path = join(dir, 'data-bad.jsonl');
    writeFileSync(path, content);
    await expect(loadCorpus(`file:${path}`)).rejects.toThrow(message);
  });

  it('rejects unknown sources, relative paths, odd extensions and missing files', async () => {
    await expect(loadCorpus('hf:gpt2')).rejects.toThrow(
      /Unknown dataset source "hf:gpt2"; valid sources are stdlib:moby-dick, stdlib:sotu, file:/,
    );
    await expect(loadCorpus('stdlib:iris')).rejects.toThrow(/valid sources are/);
    await expect(loadCorpus('file:data.txt')).rejects.toThrow(/absolute path/);
    await expect(loadCorpus(`file:${join(dir, 'x.csv')}`)).rejects.toThrow(/unsupported extension ".csv"/);
    await expect(loadCorpus(`file:${join(dir, 'missing.txt')}`)).rejects.toThrow(/cannot read .*ENOENT/);
  });
});

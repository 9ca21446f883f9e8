// Reading a sweep file (YAML or JSON by extension) and mapping an API field path such as
// "searchSpace.r.0" back to the line of the file that holds it, so a 400 can point at the source.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { UsageError } from './errors';

export interface SourceLocation {
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** The source line, without its newline. */
  text: string;
  /** False when only a prefix of the path exists in the file (e.g. `r: 0` for "searchSpace.r.0"). */
  exact: boolean;
}

export interface SpecFile {
  /** The path as given on the command line. */
  file: string;
  format: 'yaml' | 'json';
  text: string;
  /** The parsed content (plain JS values). */
  data: Record<string, unknown>;
  /** sha256 (hex) of the file's bytes: the default Idempotency-Key. */
  sha256: string;
  /** Where a dotted field path of the API's errors sits in the file, when it can be found. */
  locate(field: string): SourceLocation | undefined;
}

export function formatOf(file: string): 'yaml' | 'json' {
  return path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
}

export function loadSpecFile(file: string, readFile: (p: string) => Buffer = (p) => fs.readFileSync(p)): SpecFile {
  let bytes: Buffer;
  try {
    bytes = readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (e as Error).message;
    throw new UsageError(`cannot read ${file}: ${why}`);
  }
  const text = bytes.toString('utf8');
  return parseSpecText(file, text, createHash('sha256').update(bytes).digest('hex'));
}

export function parseSpecText(file: string, text: string, sha256 = createHash('sha256').update(text).digest('hex')): SpecFile {
  const format = formatOf(file);
  const lineCounter = new LineCounter();
  // JSON is YAML too: its document gives the same path → line mapping for .json files.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, keepSourceTokens: false });
  const lines = text.split(/\r?\n/);
  let data: unknown;
  if (format === 'json') {
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw jsonError(file, text, (e as Error).message);
    }
  } else {
    if (doc.errors.length > 0) throw yamlError(file, doc.errors[0]);
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      throw new UsageError(`${file}: invalid YAML: ${(e as Error).message}`);
    }
  }
  if (data === null || data === undefined) throw new UsageError(`${file} is empty: a sweep needs at least baseModel, dataset and variants`);
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(
      `${file}: a sweep must be a mapping of fields (baseModel, dataset, variants, …), not ${Array.isArray(data) ? 'a list' : `a ${typeof data}`}`,
    );
  }
  const usable = doc.errors.length === 0;
  return {
    file,
    format,
    text,
    data: data as Record<string, unknown>,
    sha256,
    locate: (field) => (usable ? locateField(doc, lineCounter, lines, field) : undefined),
  };
}

function yamlError(file: string, err: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): UsageError {
  const [head, ...rest] = err.message.split('\n');
  const pos = err.linePos?.[0];
  const what = head.replace(/ at line \d+, column \d+:?\s*$/, '');
  const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
  return new UsageError(
    `${where}: invalid YAML: ${what}`,
    rest.filter((l) => l.trim() !== '').map((l) => `  ${l}`),
  );
}

function jsonError(file: string, text: string, message: string): UsageError {
  const offset = jsonErrorOffset(text);
  let where = file;
  if (offset >= 0) {
    const before = text.slice(0, offset).split(/\r?\n/);
    where = `${file}:${before.length}:${before[before.length - 1].length + 1}`;
  }
  const what = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (\.\.\.)?".*is not valid JSON$/s, '');
  return new UsageError(`${where}: invalid JSON: ${what}`);
}

/** Offset of the first JSON syntax error (-1 when there is none): JSON.parse does not always say where. */
export function jsonErrorOffset(s: string): number {
  let i = 0;
  const literal = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const fail = (): never => {
    throw new JsonAt(i);
  };
  const ws = () => {
    while (i < s.length && ' \t\n\r'.includes(s[i])) i++;
  };
  const str = () => {
    i++;
    while (i < s.length) {
      const c = s[i];
      if (c === '"') return void i++;
      if (c < ' ') fail();
      i += c === '\\' ? 2 : 1;
    }
    fail();
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (s[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          ws();
          if (s[i] !== '"') fail();
          str();
          ws();
          if (s[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === close) return void i++;
        fail();
      }
    }
    if (c === '"') return str();
    literal.lastIndex = i;
    const m = literal.exec(s);
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
    return -1;
  } catch (e) {
    if (e instanceof JsonAt) return Math.min(e.offset, s.length);
    throw e;
  }
}

class JsonAt {
  constructor(readonly offset: number) {}
}

function keyName(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (typeof key === 'string' || typeof key === 'number') return String(key);
  return undefined;
}

/** Walks the document along "a.b.0.c"; the deepest node found gives the line (a map entry: its key). */
export function locateField(doc: Document.Parsed, lineCounter: LineCounter, lines: string[], field: string): SourceLocation | undefined {
  if (!field || field.startsWith('(')) return undefined;
  const segments = field.split('.');
  let node: unknown = doc.contents;
  let offset: number | undefined;
  let matched = 0;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyName(p.key) === seg);
      if (!pair) break;
      const anchor = isNode(pair.key) ? pair.key : isNode(pair.value) ? pair.value : undefined;
      if (anchor?.range) offset = anchor.range[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const i = Number(seg);
      const item = Number.isInteger(i) && i >= 0 ? node.items[i] : undefined;
      if (!isNode(item)) break;
      if ((item as Node).range) offset = (item as Node).range![0];
      node = item;
    } else {
      break;
    }
    matched++;
  }
  if (matched === 0 || offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, col, text: lines[line - 1] ?? '', exact: matched === segments.length };
}

// The trials table's pure logic: flattening hyperparameters into columns, sorting (nulls last)
// and the filter language (free text plus key=value, key!=value, key>value, key<value terms).

export type Cell = string | number | boolean | null;
export type FlatRow = Record<string, Cell>;

export interface HyperparamsLike {
  r?: number;
  alpha?: number;
  lr?: number;
  dropout?: number;
  targetModules?: string[];
  rslora?: boolean;
  knobs?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

const BASE_KEYS = ['r', 'alpha', 'lr', 'dropout', 'rslora', 'targetModules'] as const;

function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x) => String(x)).join(',');
  return JSON.stringify(v);
}

/** One trial's hyperparameters as flat columns: r, alpha, lr, …, each knob by name, training.* keys. */
export function flattenHyperparams(hp: HyperparamsLike | null | undefined): FlatRow {
  const out: FlatRow = {};
  if (!hp) return out;
  for (const k of BASE_KEYS) if (k in hp) out[k] = toCell((hp as Record<string, unknown>)[k]);
  for (const [k, v] of Object.entries(hp.knobs ?? {})) out[k in out ? `knob.${k}` : k] = toCell(v);
  for (const [k, v] of Object.entries(hp.training ?? {})) out[`training.${k}`] = toCell(v);
  return out;
}

/**
 * The hyperparameter columns to show for a set of flattened rows: the common ones and every
 * knob (union over trials, first-seen order), plus training.* keys only where trials differ.
 */
export function hyperparamColumns(rows: ReadonlyArray<FlatRow>): string[] {
  const seen: string[] = [];
  const set = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!set.has(k)) {
        set.add(k);
        seen.push(k);
      }
    }
  }
  const base = BASE_KEYS.filter((k) => set.has(k)) as string[];
  const knobs = seen.filter((k) => !base.includes(k) && !k.startsWith('training.'));
  const training = seen.filter((k) => k.startsWith('training.') && varies(rows, k));
  return [...base, ...knobs, ...training];
}

function varies(rows: ReadonlyArray<FlatRow>, key: string): boolean {
  let first: Cell | undefined;
  for (const r of rows) {
    const v = r[key] ?? null;
    if (first === undefined) first = v;
    else if (v !== first) return true;
  }
  return false;
}

/** Numeric columns whose value differs between rows (the axes of a parallel-coordinates plot). */
export function varyingNumericColumns(rows: ReadonlyArray<FlatRow>, columns: ReadonlyArray<string>): string[] {
  return columns.filter((c) => {
    let numeric = false;
    for (const r of rows) {
      const v = r[c];
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number') return false;
      numeric = true;
    }
    return numeric && varies(rows, c);
  });
}

/** Ascending comparison of two cells; null/undefined/NaN always sort last (in either direction). */
export function compareCells(a: Cell | undefined, b: Cell | undefined, dir: 'asc' | 'desc' = 'asc'): number {
  const na = a === null || a === undefined || (typeof a === 'number' && Number.isNaN(a));
  const nb = b === null || b === undefined || (typeof b === 'number' && Number.isNaN(b));
  if (na || nb) return na && nb ? 0 : na ? 1 : -1;
  let c: number;
  if (typeof a === 'number' && typeof b === 'number') c = a - b;
  else if (typeof a === 'boolean' && typeof b === 'boolean') c = Number(a) - Number(b);
  else c = String(a).localeCompare(String(b), undefined, { numeric: true });
  return dir === 'asc' ? c : -c;
}

/** Rows sorted by one column (stable: ties keep their order), nulls last. */
export function sortRows<T extends FlatRow>(rows: ReadonlyArray<T>, key: string | null, dir: 'asc' | 'desc'): T[] {
  const idx = rows.map((r, i) => [r, i] as const);
  if (key) idx.sort((x, y) => compareCells(x[0][key], y[0][key], dir) || x[1] - y[1]);
  return idx.map(([r]) => r);
}

export type FilterOp = '=' | '!=' | '>' | '<' | '>=' | '<=';
export type FilterTerm = { kind: 'text'; text: string } | { kind: 'cmp'; key: string; op: FilterOp; value: string };

/** Splits a filter string into terms: `key=value`, `key!=value`, `key>=v`, `key<=v`, `key>v`, `key<v`, or free text. */
export function parseFilter(input: string): FilterTerm[] {
  const terms: FilterTerm[] = [];
  for (const raw of input.trim().split(/\s+/)) {
    if (!raw) continue;
    const m = /^([A-Za-z_][\w.]*)(!=|>=|<=|=|>|<)(.*)$/.exec(raw);
    if (m && m[3] !== '') terms.push({ kind: 'cmp', key: m[1], op: m[2] as FilterOp, value: m[3] });
    else terms.push({ kind: 'text', text: raw.toLowerCase() });
  }
  return terms;
}

function findKey(row: FlatRow, key: string): string | undefined {
  if (key in row) return key;
  const lower = key.toLowerCase();
  return Object.keys(row).find((k) => k.toLowerCase() === lower || k.toLowerCase() === `knob.${lower}`);
}

function cellEquals(cell: Cell, value: string): boolean {
  if (cell === null) return value === 'null' || value === '-';
  const num = Number(value);
  if (typeof cell === 'number' && value.trim() !== '' && Number.isFinite(num)) return cell === num;
  const s = String(cell).toLowerCase();
  const v = value.toLowerCase();
  return s === v || s.split(',').includes(v);
}

function matchTerm(row: FlatRow, t: FilterTerm, textKeys: ReadonlyArray<string>): boolean {
  if (t.kind === 'text') {
    return textKeys.some((k) => {
      const v = row[k];
      return v !== null && v !== undefined && String(v).toLowerCase().includes(t.text);
    });
  }
  const key = findKey(row, t.key);
  const cell = key === undefined ? null : row[key];
  switch (t.op) {
    case '=':
      return cellEquals(cell, t.value);
    case '!=':
      return !cellEquals(cell, t.value);
    default: {
      if (cell === null || cell === undefined) return false;
      const num = Number(t.value);
      const a = typeof cell === 'number' ? cell : Number(cell);
      if (!Number.isFinite(num) || !Number.isFinite(a)) {
        const c = String(cell).localeCompare(t.value, undefined, { numeric: true });
        return t.op === '>' ? c > 0 : t.op === '<' ? c < 0 : t.op === '>=' ? c >= 0 : c <= 0;
      }
      return t.op === '>' ? a > num : t.op === '<' ? a < num : t.op === '>=' ? a >= num : a <= num;
    }
  }
}

/** Whether a row matches every term (AND). Free text searches `textKeys`. */
export function matchesFilter(row: FlatRow, terms: ReadonlyArray<FilterTerm>, textKeys: ReadonlyArray<string>): boolean {
  return terms.every((t) => matchTerm(row, t, textKeys));
}

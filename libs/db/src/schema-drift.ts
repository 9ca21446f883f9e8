// Compares the Prisma schema's models (its DMMF, written by `prisma generate` through
// libs/db/tools/dmmf-generator.js) with a migrated Postgres schema: tables, columns (name,
// type, nullability, presence of a default), enums, primary keys, unique and plain indexes,
// foreign keys. Our migrations are hand-written SQL, so this is what keeps them honest.
// Used by schema-drift.spec.ts; not exported from the package.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientBase } from 'pg';

export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isUpdatedAt?: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
export interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
export interface DmmfEnum {
  name: string;
  dbName?: string | null;
  values: { name: string; dbName: string | null }[];
}
export interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  name?: string;
  dbName?: string;
  fields: { name: string }[];
}
export interface DmmfDatamodel {
  models: DmmfModel[];
  enums: DmmfEnum[];
  indexes: DmmfIndex[];
}
export interface DmmfSnapshot {
  prismaVersion: string;
  schemaSha256: string;
  datamodel: DmmfDatamodel;
}

export const REPO_ROOT = join(__dirname, '..', '..', '..');
export const SCHEMA_FILE = join(REPO_ROOT, 'prisma', 'schema.prisma');
export const DMMF_FILE = join(__dirname, 'generated', 'dmmf', 'dmmf.json');

/** Reads the DMMF snapshot and refuses a stale one (schema.prisma edited since `prisma generate`). */
export function loadDmmf(): DmmfSnapshot {
  let snapshot: DmmfSnapshot;
  try {
    snapshot = JSON.parse(readFileSync(DMMF_FILE, 'utf8')) as DmmfSnapshot;
  } catch {
    throw new Error(`${DMMF_FILE} is missing: run scripts/prisma-generate.sh`);
  }
  const sha = createHash('sha256').update(readFileSync(SCHEMA_FILE)).digest('hex');
  if (sha !== snapshot.schemaSha256) {
    throw new Error('prisma/schema.prisma changed since the client was generated: run scripts/prisma-generate.sh');
  }
  return snapshot;
}

const SCALAR_UDT: Record<string, string> = {
  String: 'text',
  Int: 'int4',
  BigInt: 'int8',
  Float: 'float8',
  Decimal: 'numeric',
  Boolean: 'bool',
  DateTime: 'timestamp',
  Json: 'jsonb',
  Bytes: 'bytea',
};
const NATIVE_UDT: Record<string, string> = {
  Text: 'text',
  VarChar: 'varchar',
  Char: 'bpchar',
  Uuid: 'uuid',
  Integer: 'int4',
  SmallInt: 'int2',
  BigInt: 'int8',
  DoublePrecision: 'float8',
  Real: 'float4',
  Decimal: 'numeric',
  Boolean: 'bool',
  Timestamp: 'timestamp',
  Timestamptz: 'timestamptz',
  Date: 'date',
  Time: 'time',
  Timetz: 'timetz',
  Json: 'json',
  JsonB: 'jsonb',
  ByteA: 'bytea',
  Inet: 'inet',
  Citext: 'citext',
};
/** Defaults Prisma fills in on the client: no DEFAULT in the database. */
const CLIENT_SIDE_DEFAULTS = new Set(['uuid', 'cuid', 'nanoid', 'ulid']);
const FK_ACTION: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

const tableOf = (m: DmmfModel) => m.dbName ?? m.name;
const columnOf = (f: DmmfField) => f.dbName ?? f.name;

function expectedUdt(field: DmmfField, enums: Map<string, DmmfEnum>): { udt: string; precision?: number } {
  let udt: string;
  let precision: number | undefined;
  if (field.kind === 'enum') {
    const e = enums.get(field.type);
    udt = e?.dbName ?? field.type;
  } else if (field.nativeType) {
    const [name, args] = field.nativeType;
    udt = NATIVE_UDT[name];
    if (!udt) throw new Error(`schema-drift: add @db.${name} to NATIVE_UDT`);
    if (/^(Timestamp|Timestamptz|Time|Timetz)$/.test(name)) precision = args.length ? Number(args[0]) : 6;
  } else {
    udt = SCALAR_UDT[field.type];
    if (!udt) throw new Error(`schema-drift: add scalar ${field.type} to SCALAR_UDT`);
    if (field.type === 'DateTime') precision = 3;
  }
  return { udt: field.isList ? `_${udt}` : udt, precision };
}

interface IndexRow {
  table: string;
  name: string;
  unique: boolean;
  primary: boolean;
  columns: string[];
}

/**
 * Differences between the models and the database schema, as readable lines; empty when they
 * agree.
 */
export async function diffDatabaseAgainstModels(client: ClientBase, schema: string, dm: DmmfDatamodel): Promise<string[]> {
  const problems: string[] = [];
  const enums = new Map(dm.enums.map((e) => [e.name, e]));
  const models = new Map(dm.models.map((m) => [m.name, m]));

  // Tables
  const tables = (
    await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
      [schema],
    )
  ).rows.map((r) => r.table_name);
  const expectedTables = new Set(dm.models.map(tableOf));
  for (const t of expectedTables) if (!tables.includes(t)) problems.push(`table ${t}: missing in the database`);
  for (const t of tables)
    if (t !== '_prisma_migrations' && !expectedTables.has(t)) problems.push(`table ${t}: in the database but no model`);

  // Enums
  const enumRows = (
    await client.query<{ typname: string; labels: string[] }>(
      `SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = $1 GROUP BY t.typname`,
      [schema],
    )
  ).rows;
  const dbEnums = new Map(enumRows.map((r) => [r.typname, r.labels]));
  for (const e of dm.enums) {
    const name = e.dbName ?? e.name;
    const want = e.values.map((v) => v.dbName ?? v.name);
    const got = dbEnums.get(name);
    if (!got) problems.push(`enum ${name}: missing in the database`);
    else if (got.join(',') !== want.join(','))
      problems.push(`enum ${name}: database has (${got.join(', ')}), schema has (${want.join(', ')})`);
    dbEnums.delete(name);
  }
  for (const name of dbEnums.keys()) problems.push(`enum ${name}: in the database but not in the schema`);

  // Columns
  const columnRows = (
    await client.query<{
      table_name: string;
      column_name: string;
      is_nullable: 'YES' | 'NO';
      data_type: string;
      udt_name: string;
      column_default: string | null;
      datetime_precision: number | null;
    }>(
      `SELECT table_name, column_name, is_nullable, data_type, udt_name, column_default, datetime_precision
         FROM information_schema.columns WHERE table_schema = $1`,
      [schema],
    )
  ).rows;
  for (const model of dm.models) {
    const table = tableOf(model);
    if (!tables.includes(table)) continue;
    const dbCols = new Map(columnRows.filter((c) => c.table_name === table).map((c) => [c.column_name, c]));
    for (const field of model.fields) {
      if (field.kind !== 'scalar' && field.kind !== 'enum') continue;
      const col = columnOf(field);
      const where = `${table}.${col}`;
      const db = dbCols.get(col);
      if (!db) {
        problems.push(`column ${where}: missing in the database (field ${model.name}.${field.name} has no migration)`);
        continue;
      }
      dbCols.delete(col);
      const nullable = db.is_nullable === 'YES';
      if (nullable !== !field.isRequired)
        problems.push(
          `column ${where}: ${nullable ? 'NULL' : 'NOT NULL'} in the database, ${field.isRequired ? 'required' : 'optional'} in the schema`,
        );
      const { udt, precision } = expectedUdt(field, enums);
      if (db.udt_name !== udt) problems.push(`column ${where}: type ${db.udt_name} in the database, ${udt} expected`);
      if (field.kind === 'enum' && db.data_type !== 'USER-DEFINED') problems.push(`column ${where}: not an enum column`);
      if (precision !== undefined && db.datetime_precision !== precision) {
        problems.push(`column ${where}: precision ${db.datetime_precision} in the database, ${precision} expected`);
      }
      const def = field.default as { name?: string } | string | number | boolean | undefined;
      const fnName = def && typeof def === 'object' && !Array.isArray(def) ? def.name : undefined;
      const wantsDbDefault = field.hasDefaultValue && !(fnName && CLIENT_SIDE_DEFAULTS.has(fnName));
      if (wantsDbDefault && db.column_default === null) problems.push(`column ${where}: no DEFAULT in the database, the schema has one`);
      if (!wantsDbDefault && db.column_default !== null)
        problems.push(`column ${where}: DEFAULT ${db.column_default} in the database, none in the schema`);
      if (fnName === 'autoincrement' && !String(db.column_default).startsWith('nextval('))
        problems.push(`column ${where}: not autoincrement`);
      if (fnName === 'now' && !/CURRENT_TIMESTAMP|now\(\)/i.test(String(db.column_default)))
        problems.push(`column ${where}: default is not now()`);
      if (def !== undefined && (typeof def !== 'object' || Array.isArray(def))) {
        const literal = String(def);
        if (!String(db.column_default).includes(literal))
          problems.push(`column ${where}: DEFAULT ${db.column_default} in the database, ${literal} in the schema`);
      }
    }
    for (const col of dbCols.keys()) problems.push(`column ${table}.${col}: in the database but not in model ${model.name}`);
  }

  // Primary keys, unique constraints, indexes
  const indexRows = (
    await client.query<IndexRow>(
      `SELECT t.relname AS "table", i.relname AS name, ix.indisunique AS "unique", ix.indisprimary AS "primary",
              array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE n.nspname = $1 AND t.relname <> '_prisma_migrations'
        GROUP BY t.relname, i.relname, ix.indisunique, ix.indisprimary`,
      [schema],
    )
  ).rows;
  const describe = (r: { table: string; unique: boolean; primary: boolean; columns: string[] }) =>
    `${r.primary ? 'primary key' : r.unique ? 'unique index' : 'index'} ${r.table}(${r.columns.join(', ')})`;
  const remaining = [...indexRows];
  for (const idx of dm.indexes) {
    if (idx.type === 'fulltext') continue;
    const model = models.get(idx.model);
    if (!model) continue;
    const table = tableOf(model);
    const columns = idx.fields.map((f) => {
      const field = model.fields.find((x) => x.name === f.name);
      return field ? columnOf(field) : f.name;
    });
    const want = { table, unique: idx.type !== 'normal', primary: idx.type === 'id', columns };
    const suffix = idx.type === 'id' ? 'pkey' : idx.type === 'unique' ? 'key' : 'idx';
    const name = idx.dbName ?? (idx.type === 'id' ? `${table}_pkey` : `${table}_${columns.join('_')}_${suffix}`);
    const at = remaining.findIndex(
      (r) => r.table === table && r.unique === want.unique && r.primary === want.primary && r.columns.join(',') === columns.join(','),
    );
    if (at < 0) {
      problems.push(`${describe(want)}: missing in the database`);
      continue;
    }
    const [found] = remaining.splice(at, 1);
    if (name.length <= 63 && found.name !== name)
      problems.push(`${describe(want)}: named ${found.name} in the database, Prisma expects ${name}`);
  }
  for (const r of remaining) problems.push(`${describe(r)} (${r.name}): in the database but not in the schema`);

  // Foreign keys
  const fkRows = (
    await client.query<{
      name: string;
      table: string;
      columns: string[];
      ref_table: string;
      ref_columns: string[];
      on_delete: string;
      on_update: string;
    }>(
      `SELECT c.conname AS name, t.relname AS "table", rt.relname AS ref_table,
              c.confdeltype AS on_delete, c.confupdtype AS on_update,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS ref_columns
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_class rt ON rt.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND n.nspname = $1`,
      [schema],
    )
  ).rows;
  const fks = [...fkRows];
  for (const model of dm.models) {
    for (const field of model.fields) {
      if (field.kind !== 'object' || !field.relationFromFields?.length) continue;
      const target = models.get(field.type);
      if (!target) continue;
      const table = tableOf(model);
      const columns = field.relationFromFields.map((n) => columnOf(model.fields.find((f) => f.name === n) ?? ({ name: n } as DmmfField)));
      const refColumns = (field.relationToFields ?? []).map((n) =>
        columnOf(target.fields.find((f) => f.name === n) ?? ({ name: n } as DmmfField)),
      );
      const onDelete = field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull');
      const onUpdate = field.relationOnUpdate ?? 'Cascade';
      const label = `foreign key ${table}(${columns.join(', ')}) -> ${tableOf(target)}(${refColumns.join(', ')})`;
      const at = fks.findIndex((r) => r.table === table && r.columns.join(',') === columns.join(','));
      if (at < 0) {
        problems.push(`${label}: missing in the database`);
        continue;
      }
      const [fk] = fks.splice(at, 1);
      if (fk.ref_table !== tableOf(target) || fk.ref_columns.join(',') !== refColumns.join(',')) {
        problems.push(`${label}: references ${fk.ref_table}(${fk.ref_columns.join(', ')}) in the database`);
      }
      if (FK_ACTION[fk.on_delete] !== onDelete)
        problems.push(`${label}: ON DELETE ${FK_ACTION[fk.on_delete]} in the database, ${onDelete} in the schema`);
      if (FK_ACTION[fk.on_update] !== onUpdate)
        problems.push(`${label}: ON UPDATE ${FK_ACTION[fk.on_update]} in the database, ${onUpdate} in the schema`);
      const name = `${table}_${columns.join('_')}_fkey`;
      if (name.length <= 63 && fk.name !== name) problems.push(`${label}: named ${fk.name} in the database, Prisma expects ${name}`);
    }
  }
  for (const fk of fks)
    problems.push(`foreign key ${fk.table}(${fk.columns.join(', ')}) (${fk.name}): in the database but not in the schema`);

  return problems;
}

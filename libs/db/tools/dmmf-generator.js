#!/usr/bin/env node
// A minimal Prisma generator (JSON-RPC over stdin/stderr, the protocol of
// @prisma/generator-helper, which is not installed) that writes the schema's full DMMF
// datamodel to <output>/dmmf.json. The generated client only carries a pruned runtime data
// model (no nullability, no unique constraints, no indexes), and @prisma/internals' getDMMF is
// not installed, so libs/db/src/schema-drift.spec.ts reads this file to compare the schema's
// models with the migrated database.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const readline = require('node:readline');

function reply(id, result) {
  process.stderr.write(JSON.stringify({ jsonrpc: '2.0', id, result }) + '\n');
}
function fail(id, err) {
  process.stderr.write(
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      error: { code: -32000, message: String(err && err.message ? err.message : err), data: { stack: err && err.stack } },
    }) + '\n',
  );
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  try {
    if (msg.method === 'getManifest') {
      reply(msg.id, {
        manifest: { prettyName: 'DMMF snapshot (schema drift test)', defaultOutput: '../libs/db/src/generated/dmmf', requiresEngines: [] },
      });
    } else if (msg.method === 'generate') {
      const p = msg.params;
      const out = p.generator.output && p.generator.output.value;
      if (!out) throw new Error('dmmf generator: no output directory');
      fs.mkdirSync(out, { recursive: true });
      const schemaText = fs.readFileSync(p.schemaPath, 'utf8');
      const snapshot = {
        prismaVersion: p.version,
        schemaPath: path.basename(p.schemaPath),
        schemaSha256: crypto.createHash('sha256').update(schemaText).digest('hex'),
        datamodel: p.dmmf.datamodel,
      };
      fs.writeFileSync(path.join(out, 'dmmf.json'), JSON.stringify(snapshot, null, 2) + '\n');
      reply(msg.id, null);
    } else {
      fail(msg.id, new Error(`dmmf generator: unknown method ${msg.method}`));
    }
  } catch (err) {
    fail(msg.id, err);
  }
});

// Golden fixtures from Hugging Face PEFT (libs/adapters/fixtures/peft, made by make_fixtures.py
// there): for each case, load the tiny base with loadHfModel and the adapter folder with
// AdapterSet.fromPeft, then compare our logits, mean cross-entropy and the gradient of that loss
// w.r.t. every trainable adapter tensor with what PEFT computed (in float64, from the same float32
// weights).
//
// Tolerance, per tensor b (PEFT) vs a (ours): max_i |a_i - b_i| <= 1e-5 * max_i |b_i| + 1e-6
// (for the scalar loss: |a - b| <= 1e-5 * |b| + 1e-6).
//
// Every case folder must be listed in IMPLEMENTED (full comparison) or PENDING (reported as todo,
// never as a pass). Move a case to IMPLEMENTED once fromPeft reads its variant. To try pending
// cases without editing this file: PEFT_FIXTURES_RUN=dora,vera (or =all) npx jest ... peft-fixtures
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadHfModel, parseSafetensors, toFloat32, type SafetensorsTensor } from '@lora/engine';
import { AdapterSet } from './adapter-set';

/** Cases whose variant fromPeft reads: compared in full. The lead extends this list. */
const IMPLEMENTED = ['lora', 'rslora', 'lora_fc', 'dora', 'vera', 'adalora'];
/** Cases whose variant is still being written: listed as todo, never passed. */
const PENDING: string[] = [];

const FIXTURES = join(__dirname, '../fixtures/peft');
const BASE = join(FIXTURES, 'base');
const REL_TOL = 1e-5;
const ABS_TOL = 1e-6;
const PEFT_PREFIX = 'base_model.model.';

const caseDirs = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'base')
  .map((d) => d.name)
  .sort();
const requested = (process.env.PEFT_FIXTURES_RUN ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const extra = requested.includes('all') ? PENDING : PENDING.filter((c) => requested.includes(c));
const toRun = [...IMPLEMENTED, ...extra];

function readTensors(path: string): Map<string, SafetensorsTensor> {
  return parseSafetensors(readFileSync(path)).tensors;
}

function get(tensors: Map<string, SafetensorsTensor>, key: string, file: string): SafetensorsTensor {
  const t = tensors.get(key);
  if (!t) throw new Error(`${file} has no tensor '${key}'`);
  return t;
}

function ids(t: SafetensorsTensor): tf.Tensor2D {
  return tf.tensor2d(Int32Array.from(toFloat32(t)), t.shape as [number, number], 'int32');
}

/** null when within tolerance, else a line saying by how much it is off. */
function mismatch(name: string, actual: ArrayLike<number>, expected: SafetensorsTensor, actualShape: number[]): string | null {
  if (actualShape.join(',') !== expected.shape.join(',')) return `${name}: shape [${actualShape}] vs PEFT [${expected.shape}]`;
  const want = toFloat32(expected);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(actual[i] - want[i]);
    if (!(d <= worst)) {
      worst = d; // NaN propagates as a mismatch
      at = i;
    }
  }
  const tol = REL_TOL * scale + ABS_TOL;
  if (worst <= tol) return null;
  return `${name}: max |ours - PEFT| ${worst.toExponential(3)} at [${at}] (ours ${actual[at]}, PEFT ${want[at]}) > tol ${tol.toExponential(3)}`;
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('PEFT golden fixtures', () => {
  it('lists every fixture case as IMPLEMENTED or PENDING, and has a folder for each listed case', () => {
    const listed = new Set([...IMPLEMENTED, ...PENDING]);
    const unlisted = caseDirs.filter((c) => !listed.has(c));
    if (unlisted.length > 0) {
      throw new Error(`fixture case(s) ${unlisted.join(', ')} are in neither IMPLEMENTED nor PENDING of peft-fixtures.spec.ts; add them`);
    }
    expect(IMPLEMENTED.filter((c) => PENDING.includes(c))).toEqual([]);
    expect([...listed].filter((c) => !caseDirs.includes(c))).toEqual([]);
    expect(requested.filter((c) => c !== 'all' && !listed.has(c))).toEqual([]);
  });

  it('loads the base folder with loadHfModel and reproduces transformers logits', async () => {
    const expected = readTensors(join(BASE, 'expected.safetensors'));
    const { model } = await loadHfModel(BASE);
    const x = ids(get(expected, 'input_ids', 'base/expected.safetensors'));
    const logits = model.forward(x);
    const got = mismatch('base logits', (await logits.data()) as Float32Array, get(expected, 'logits', 'base'), logits.shape);
    tf.dispose([x, logits]);
    model.dispose();
    expect(got).toBeNull();
  });

  for (const name of PENDING.filter((c) => !extra.includes(c))) {
    it.todo(`${name}: PENDING, not compared (try PEFT_FIXTURES_RUN=${name}); move it to IMPLEMENTED once it passes`);
  }

  it.each(toRun)('%s: logits, loss and adapter gradients match PEFT', async (name) => {
    const dir = join(FIXTURES, name);
    if (!existsSync(join(dir, 'expected.safetensors'))) throw new Error(`fixture folder ${dir} is missing; re-run make_fixtures.py`);
    const file = `${name}/expected.safetensors`;
    const expected = readTensors(join(dir, 'expected.safetensors'));
    const adapterConfig = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const { model } = await loadHfModel(BASE);
    let set: AdapterSet;
    try {
      set = AdapterSet.fromPeft(model, adapterConfig, readFileSync(join(dir, 'adapter_model.safetensors')));
    } catch (err) {
      model.dispose();
      throw new Error(`${name}: AdapterSet.fromPeft failed: ${(err as Error).message}`, { cause: err });
    }
    const x = ids(get(expected, 'input_ids', file));
    const y = ids(get(expected, 'targets', file));
    const problems: string[] = [];
    try {
      const logits = model.forward(x, { adapters: set });
      problems.push(mismatch('logits', (await logits.data()) as Float32Array, get(expected, 'logits', file), logits.shape) ?? '');
      logits.dispose();

      const named = set.namedTrainableVariables();
      const keyOf = new Map(named.map(([n, v]) => [v.name, `${PEFT_PREFIX}${n}`]));
      const { value, grads } = tf.variableGrads(
        () => model.loss(x, y, { adapters: set, training: true }),
        named.map(([, v]) => v),
      );
      const loss = get(expected, 'loss', file);
      problems.push(mismatch('loss', [(await value.data())[0]], loss, loss.shape) ?? '');

      const ours = new Map<string, tf.Tensor>([...Object.entries(grads)].map(([vname, g]) => [keyOf.get(vname)!, g]));
      const theirs = [...expected.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice('grad.'.length));
      const missing = theirs.filter((k) => !ours.has(k));
      const extraKeys = [...ours.keys()].filter((k) => !theirs.includes(k));
      if (missing.length) problems.push(`PEFT trains ${missing.length} tensor(s) we do not: ${missing.slice(0, 4).join(', ')}`);
      if (extraKeys.length) problems.push(`we train ${extraKeys.length} tensor(s) PEFT does not: ${extraKeys.slice(0, 4).join(', ')}`);
      for (const k of theirs) {
        const g = ours.get(k);
        if (g) problems.push(mismatch(`grad ${k}`, (await g.data()) as Float32Array, get(expected, `grad.${k}`, file), g.shape) ?? '');
      }
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      tf.dispose([x, y]);
      set.dispose();
      model.dispose();
    }
    expect(problems.filter(Boolean)).toEqual([]);
  });
});

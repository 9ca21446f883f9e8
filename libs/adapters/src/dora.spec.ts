import * as tf from '@tensorflow/tfjs-core';
import { evaluate, initBackend, parseSafetensors, Rng, serializeSafetensors, type ModelAdapters, type ModuleHook } from '@lora/engine';
import { AdapterSet } from './adapter-set';
import { DoraConfig, DoraModule, doraVariant } from './dora';
import { LoraModule } from './lora';
import { gradCheck } from '../../engine/src/testing/grad-check';
import { tinyModel } from '../../engine/src/testing/tiny-model';
import { batcher, identical, inputs, logits, maxDiff, onBackend, snapshotWeights, T, trainSteps, values } from './testing/spec-helpers';

beforeAll(async () => {
  await initBackend('cpu');
});

const TARGETS = ['c_attn', 'mlp.c_proj'];

function attach(model: ReturnType<typeof tinyModel>, config: Partial<DoraConfig> = {}, seed = 1): AdapterSet<DoraConfig> {
  return AdapterSet.attach(model, { variant: doraVariant, targetModules: TARGETS, config: { r: 4, alpha: 8, ...config }, seed });
}

/** Random B (so ΔW ≠ 0) and m moved off ||W|| (so g ≠ 1). */
function randomize(set: AdapterSet, seed: number): void {
  for (const m of set.modules() as DoraModule[]) {
    m.b.assign(tf.randomNormal(m.b.shape, 0, 0.5, 'float32', seed++));
    tf.tidy(() => m.m.assign(tf.mul(m.m, tf.randomUniform(m.m.shape, 0.5, 1.5, 'float32', seed++))));
  }
}

/** Host row norms of V = W + s·(B A)ᵀ, W stored [in, out]: one norm per output column. */
async function hostNorms(m: DoraModule): Promise<Float32Array> {
  const [inF, outF] = [m.info.inFeatures, m.info.outFeatures];
  const w = await values(m.info.weight);
  const a = await values(m.a);
  const b = await values(m.b);
  const r = m.a.shape[0];
  const out = new Float32Array(outF);
  for (let o = 0; o < outF; o++) {
    let sq = 0;
    for (let i = 0; i < inF; i++) {
      let ba = 0;
      for (let k = 0; k < r; k++) ba += b[o * r + k] * a[k * inF + i];
      const v = w[i * outF + o] + m.scaling * ba;
      sq += v * v;
    }
    out[o] = Math.sqrt(sq);
  }
  return out;
}

/**
 * An independent DoRA: y = x (V ⊙ m / n) + b with V = W + s·(B A)ᵀ built by a plain transpose and
 * the norm n a constant tensor: its autodiff and its finite differences are the detached gradient.
 */
function reference(m: DoraModule, norm: Float32Array): ModuleHook & { dispose(): void } {
  const n = tf.tensor1d(norm);
  return {
    forward: (x) =>
      tf.tidy(() => {
        const v = tf.add(m.info.weight, tf.mul(tf.transpose(tf.matMul(m.b, m.a)), tf.scalar(m.scaling)));
        return tf.add(tf.matMul(x, tf.mul(v, tf.div(m.m, n))), m.info.bias) as tf.Tensor2D;
      }),
    dispose: () => n.dispose(),
  };
}

async function gradOf(loss: () => tf.Scalar, v: tf.Variable): Promise<Float32Array> {
  const { value, grads } = tf.variableGrads(loss, [v]);
  const g = await values(grads[v.name]);
  tf.dispose([value, grads[v.name]]);
  return g;
}

describe('DoRA', () => {
  it('starts m at the per-output norms of W ([in, out] storage: down each column) and counts LoRA + out', async () => {
    const model = tinyModel();
    const set = attach(model);
    for (const m of set.modules() as DoraModule[]) {
      const w = await values(m.info.weight);
      const want = Array.from({ length: m.info.outFeatures }, (_, o) => {
        let s = 0;
        for (let i = 0; i < m.info.inFeatures; i++) s += w[i * m.info.outFeatures + o] ** 2;
        return Math.sqrt(s);
      });
      expect(m.m.shape).toEqual([m.info.outFeatures]);
      expect(maxDiff(await values(m.m), want)).toBeLessThan(1e-5);
    }
    // LoRA r 4: c_attn 4·(8 + 24) + 24, mlp.c_proj 4·(32 + 8) + 8; two layers.
    expect(set.trainableParameterCount()).toBe(2 * (4 * 32 + 24) + 2 * (4 * 40 + 8));
    expect(set.namedTrainableVariables().map(([n]) => n)).toContain('transformer.h.0.attn.c_attn.lora_magnitude_vector');
    set.dispose();
    model.dispose();
  });

  it('is the base model at step 0: identical logits', async () => {
    const model = tinyModel(2);
    const set = attach(model, { dropout: 0.1 });
    const [x] = inputs(4);
    expect(identical(await logits(model, x, set), await logits(model, x))).toBe(true);
    set.dispose();
    model.dispose();
  });

  it('computes m ⊙ (W + sBA)/||W + sBA|| in the forward: matches the independent reference', async () => {
    const model = tinyModel(3);
    const set = attach(model);
    randomize(set, 10);
    const refs = new Map(
      (set.modules() as DoraModule[]).map((m) => [m.info.path, { m, ref: null as null | ReturnType<typeof reference> }]),
    );
    for (const e of refs.values()) e.ref = reference(e.m, await hostNorms(e.m));
    const refAdapters: ModelAdapters = { module: (p) => refs.get(p)?.ref ?? undefined };
    const [x] = inputs(6);
    const got = await logits(model, x, set);
    expect(maxDiff(got, await logits(model, x, refAdapters))).toBeLessThan(1e-5);
    expect(maxDiff(got, await logits(model, x))).toBeGreaterThan(1e-2);
    for (const e of refs.values()) e.ref!.dispose();
    set.dispose();
    model.dispose();
  });

  it('detaches the norm: A, B, m gradients equal the constant-norm reference, which matches finite differences', async () => {
    const model = tinyModel(4);
    const set = attach(model);
    randomize(set, 20);
    const [x, y] = inputs(5);
    const real = () => model.loss(x, y, { adapters: set, training: true });
    for (const path of ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_proj']) {
      const m = set.module(path) as DoraModule;
      // Only this module is swapped for the reference (its norm frozen at the current A, B).
      const ref = reference(m, await hostNorms(m));
      const refAdapters: ModelAdapters = { module: (p) => (p === path ? ref : set.module(p)) };
      const refLoss = () => model.loss(x, y, { adapters: refAdapters, training: true });
      for (const v of [m.a, m.b, m.m]) {
        const ours = await gradOf(real, v);
        const theirs = await gradOf(refLoss, v);
        const scale = Math.max(...theirs.map(Math.abs));
        expect(scale).toBeGreaterThan(1e-3);
        expect(maxDiff(ours, theirs)).toBeLessThan(1e-4 * scale);
        for (const r of await gradCheck(refLoss, v, 1e-2, 3)) expect(r.relError).toBeLessThan(1e-2);
      }
      // m does not enter the norm: the real loss's finite differences agree for m ...
      for (const r of await gradCheck(real, m.m, 1e-2, 3)) expect(r.relError).toBeLessThan(1e-2);
      // ... but not for B: the norm does move with B, and that part of the gradient is dropped.
      const forB = await gradCheck(real, m.b, 1e-2, 3);
      expect(Math.max(...forB.map((r) => r.relError))).toBeGreaterThan(0.05);
      ref.dispose();
    }
    set.dispose();
    model.dispose();
  });

  it("follows PEFT with dropout: x W + b + (g - 1) ⊙ (x' W) + g ⊙ s·x' Aᵀ Bᵀ, x' the dropped input", async () => {
    const model = tinyModel(5);
    const info = model.projectionModules()[0];
    const rng = new Rng(3);
    const m = new DoraModule(info, { r: 4, alpha: 8, dropout: 0.5, useRslora: false }, rng);
    tf.tidy(() => {
      m.b.assign(tf.randomNormal(m.b.shape, 0, 0.5, 'float32', 1));
      m.m.assign(tf.mul(m.m, tf.randomUniform(m.m.shape, 0.5, 1.5, 'float32', 2)));
    });
    const x = tf.randomNormal([6, info.inFeatures], 0, 1, 'float32', 3) as tf.Tensor2D;
    const base = tf.add(tf.matMul(x, info.weight), info.bias) as tf.Tensor2D;
    const twin = Rng.fromState(rng.getState());
    const got = m.forward(x, base, { training: true });
    const g = tf.div(m.m, tf.tensor1d(await hostNorms(m)));
    const xd = tf.dropout(x, 0.5, undefined, twin.nextUint32());
    const want = tf.tidy(() =>
      tf.add(
        tf.add(base, tf.mul(tf.sub(g, 1), tf.matMul(xd, info.weight))),
        tf.mul(g, tf.mul(tf.matMul(tf.matMul(xd, tf.transpose(m.a)), tf.transpose(m.b)), m.scaling)),
      ),
    );
    expect(maxDiff(await values(got), await values(want))).toBeLessThan(1e-5);
    // Eval mode: no dropout, the cheap form from baseOut.
    const evalOut = m.forward(x, base, { training: false });
    const evalWant = tf.tidy(() =>
      tf.add(tf.mul(g, tf.add(tf.matMul(x, info.weight), tf.mul(tf.matMul(x, tf.matMul(m.a, m.b, true, true)), m.scaling))), info.bias),
    );
    expect(maxDiff(await values(evalOut), await values(evalWant))).toBeLessThan(1e-5);
    tf.dispose([x, base, got, g, xd, want, evalOut, evalWant]);
    m.dispose();
    model.dispose();
  });

  it('trains A, B and m: base weights stay bit-identical, the loss drops, no tensors leak', async () => {
    const model = tinyModel(6);
    const set = attach(model, { dropout: 0.1 });
    const before = await snapshotWeights(model);
    const m0 = await values((set.modules()[0] as DoraModule).m);
    const initial = await evaluate(model, [batcher().next()], set, { seqLen: T });
    const { counts, loss } = await trainSteps(model, set, 30);
    expect(counts[6]).toBe(counts[2]);
    expect(loss).toBeLessThan(initial - 0.3);
    expect(identical(await values((set.modules()[0] as DoraModule).m), m0)).toBe(false);
    for (const [name, data] of before) expect(identical(await values(model.weight(name)), data)).toBe(true);
    const live = tf.memory().numTensors;
    set.dispose();
    expect(tf.memory().numTensors).toBe(live - 3 * 4);
    model.dispose();
  });

  it('exports lora_magnitude_vector and use_dora, and imports back as DoRA with identical logits', async () => {
    const model = tinyModel(7);
    const set = AdapterSet.attach(model, {
      variant: doraVariant,
      targetModules: TARGETS,
      config: { r: 2, alpha: 4 },
      seed: 3,
      baseModelNameOrPath: 'models/tiny',
    });
    randomize(set, 40);
    const { adapterConfig, safetensors } = await set.exportPeft();
    expect(adapterConfig).toMatchObject({
      peft_type: 'LORA',
      use_dora: true,
      r: 2,
      lora_alpha: 4,
      fan_in_fan_out: true,
      target_modules: TARGETS,
    });
    const parsed = parseSafetensors(safetensors);
    expect(parsed.tensors.size).toBe(4 * 3);
    expect(parsed.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector')?.shape).toEqual([24]);
    expect(parsed.tensors.get('base_model.model.transformer.h.1.mlp.c_proj.lora_magnitude_vector')?.shape).toEqual([8]);
    expect(parsed.tensors.get('base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight')?.shape).toEqual([2, 32]);

    const imported = AdapterSet.fromPeft(model, JSON.parse(JSON.stringify(adapterConfig)), safetensors);
    expect(imported.variant.name).toBe('dora');
    expect(imported.modules()[0]).toBeInstanceOf(DoraModule);
    const [x] = inputs(9);
    const want = await logits(model, x, set);
    expect(identical(await logits(model, x, imported), want)).toBe(true);
    expect(identical(await logits(model, x), want)).toBe(false);
    // The same folder without use_dora is a plain LoRA, which does not know the magnitude key.
    const asLora = new Map([...parsed.tensors].filter(([k]) => !k.endsWith('lora_magnitude_vector')));
    const lora = AdapterSet.fromPeft(model, { ...adapterConfig, use_dora: false }, serializeSafetensors(Object.fromEntries(asLora)));
    expect(lora.modules()[0]).toBeInstanceOf(LoraModule);
    expect(lora.modules()[0]).not.toBeInstanceOf(DoraModule);
    expect(() => AdapterSet.fromPeft(model, adapterConfig, serializeSafetensors(Object.fromEntries(asLora)))).toThrow(
      /missing 'lora_magnitude_vector'/,
    );
    for (const s of [set, imported, lora]) s.dispose();
    model.dispose();
  });

  it('runs on wasm within 1e-4 of cpu', async () => {
    const model = tinyModel(8);
    const set = attach(model);
    randomize(set, 50);
    const [x] = inputs(2);
    try {
      const cpu = await onBackend('cpu', () => logits(model, x, set));
      const wasm = await onBackend('wasm', () => logits(model, x, set));
      expect(maxDiff(wasm, cpu)).toBeLessThan(1e-4);
      expect(identical(cpu, await onBackend('cpu', () => logits(model, x)))).toBe(false);
    } finally {
      await initBackend('cpu');
    }
    set.dispose();
    model.dispose();
  });
});

// What a training run needs to go on exactly where a checkpoint left it, beyond the adapter's
// PEFT files: the trainable variables (by their internal names), Adam's moments and step, and the
// batcher's position. One safetensors file: tensors `var/<name>`, `adam.m/<name>`, `adam.v/<name>`,
// the rest as JSON in the metadata. Resuming from it gives the same batches, the same learning-rate
// schedule and the same optimizer update as an uninterrupted run.
import * as tf from '@tensorflow/tfjs-core';
import type { AdamState } from './adam';
import type { TrainBatcherState } from './io/batches';
import { parseSafetensors, serializeSafetensors, toFloat32, type SafetensorsTensor } from './io/safetensors';

export const RESUME_FORMAT = 'lora-orchestrator/resume-state/1';

export interface ResumeState {
  /** The last step the state includes (training goes on at step + 1). */
  step: number;
  variables: Record<string, { shape: number[]; data: Float32Array }>;
  optimizer: AdamState;
  batcher: TrainBatcherState;
}

/** Reads the variables' values (host reads: call between steps, not inside one). */
export async function captureVariables(named: Array<[string, tf.Variable]>): Promise<ResumeState['variables']> {
  const out: ResumeState['variables'] = {};
  for (const [name, v] of named) out[name] = { shape: [...v.shape], data: (await v.data()) as Float32Array };
  return out;
}

export function encodeResumeState(s: ResumeState): Uint8Array {
  const tensors: Record<string, SafetensorsTensor> = {};
  const put = (prefix: string, rec: Record<string, { shape: number[]; data: Float32Array }>) => {
    for (const [name, t] of Object.entries(rec)) tensors[`${prefix}/${name}`] = { dtype: 'F32', shape: t.shape, data: t.data };
  };
  put('var', s.variables);
  put('adam.m', s.optimizer.m);
  put('adam.v', s.optimizer.v);
  return serializeSafetensors(tensors, {
    format: RESUME_FORMAT,
    step: String(s.step),
    adam_step: String(s.optimizer.step),
    batcher: JSON.stringify(s.batcher),
  });
}

export function decodeResumeState(bytes: Uint8Array): ResumeState {
  const file = parseSafetensors(bytes);
  const meta = file.metadata ?? {};
  if (meta.format !== RESUME_FORMAT)
    throw new Error(`resume state: unknown format ${JSON.stringify(meta.format)} (expected ${RESUME_FORMAT})`);
  const state: ResumeState = {
    step: Number(meta.step),
    variables: {},
    optimizer: { step: Number(meta.adam_step), m: {}, v: {} },
    batcher: JSON.parse(meta.batcher) as TrainBatcherState,
  };
  if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`resume state: bad step ${JSON.stringify(meta.step)}`);
  for (const [key, t] of file.tensors) {
    const slash = key.indexOf('/');
    const [prefix, name] = [key.slice(0, slash), key.slice(slash + 1)];
    const value = { shape: [...t.shape], data: toFloat32(t) };
    if (prefix === 'var') state.variables[name] = value;
    else if (prefix === 'adam.m') state.optimizer.m[name] = value;
    else if (prefix === 'adam.v') state.optimizer.v[name] = value;
    else throw new Error(`resume state: unexpected tensor ${key}`);
  }
  return state;
}

/** Writes saved values into the variables; refuses a state made for other adapters. */
export function restoreVariables(named: Array<[string, tf.Variable]>, saved: ResumeState['variables']): void {
  const names = new Set(named.map(([n]) => n));
  const extra = Object.keys(saved).filter((n) => !names.has(n));
  if (extra.length > 0)
    throw new Error(`resume state: variables ${extra.slice(0, 3).join(', ')} do not exist in this run (other adapters or targets?)`);
  for (const [name, v] of named) {
    const s = saved[name];
    if (!s) throw new Error(`resume state: no saved value for variable ${name}`);
    if (s.data.length !== v.size) throw new Error(`resume state: ${name} has ${s.data.length} values, the variable ${v.size}`);
    tf.tidy(() => v.assign(tf.tensor(s.data, v.shape, 'float32')));
  }
}

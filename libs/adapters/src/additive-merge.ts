// Merge/unmerge for variants whose effect is W + ΔW (LoRA and its kin, VeRA, AdaLoRA): fold the
// module's delta into the base weight, or take it out again. Returns the new merged state.
import * as tf from '@tensorflow/tfjs-core';
import type { ModuleInfo } from './adapter';

export function foldDelta(m: { info: ModuleInfo; deltaWeight(): tf.Tensor2D }, merged: boolean, into: boolean): boolean {
  if (merged === into) return merged;
  const w = m.info.weight;
  tf.tidy(() => w.assign(into ? tf.add(w, m.deltaWeight()) : tf.sub(w, m.deltaWeight())));
  return into;
}

// Turns a validated sweep spec into its trials: the grid product of variants × search-space axes,
// in a stable order (same spec → same trial indexes), capped by the budget.
import type { SweepSpec, TrialHyperparams, VariantName } from '@lora/contracts';

export interface PlannedTrial {
  index: number;
  variant: VariantName;
  hyperparams: TrialHyperparams;
}

export class SweepExpansionError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Cartesian product, last axis varying fastest (like nested for-loops in declaration order). */
function product<T>(axes: T[][]): T[][] {
  return axes.reduce<T[][]>((acc, axis) => acc.flatMap((prefix) => axis.map((v) => [...prefix, v])), [[]]);
}

export function countGrid(spec: SweepSpec): number {
  const s = spec.searchSpace;
  return spec.variants.length * s.r.length * s.alpha.length * s.lr.length * s.dropout.length * s.targetModules.length * s.rslora.length;
}

export function expandGrid(spec: SweepSpec): PlannedTrial[] {
  const total = countGrid(spec);
  if (total > spec.budget.maxTrials) {
    throw new SweepExpansionError(
      'budget.maxTrials',
      `the grid has ${total} trials, more than budget.maxTrials (${spec.budget.maxTrials}); raise the budget or shrink the search space`,
    );
  }
  const s = spec.searchSpace;
  const combos = product<unknown>([spec.variants, s.r, s.alpha, s.lr, s.dropout, s.targetModules, s.rslora]);
  return combos.map((c, index) => {
    const [variant, r, alpha, lr, dropout, targetModules, rslora] = c as [VariantName, number, number, number, number, string[], boolean];
    return {
      index,
      variant,
      hyperparams: { variant, r, alpha, lr, dropout, targetModules: [...targetModules], rslora, training: { ...spec.training } },
    };
  });
}

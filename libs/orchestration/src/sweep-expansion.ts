// Turns a validated sweep spec into its trials: for each variant, the grid product of the common
// axes × that variant's own knob axes, in a stable order (same spec → same trial indexes).
import { knobAxes, type SweepSpec, type TrialHyperparams, type VariantName } from '@lora/contracts';

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

function commonAxes(spec: SweepSpec): unknown[][] {
  const s = spec.searchSpace;
  return [s.r, s.alpha, s.lr, s.dropout, s.targetModules, s.rslora];
}

function knobGrid(spec: SweepSpec, variant: VariantName): Array<Record<string, unknown>> {
  const axes = Object.entries(knobAxes(variant, spec.searchSpace.perVariant[variant])).filter(([, v]) => v !== undefined);
  return product(axes.map(([, values]) => values)).map((point) => Object.fromEntries(point.map((v, i) => [axes[i][0], v])));
}

export function countGrid(spec: SweepSpec): number {
  const common = commonAxes(spec).reduce((n, a) => n * a.length, 1);
  return spec.variants.reduce((n, v) => n + common * knobGrid(spec, v as VariantName).length, 0);
}

export function expandGrid(spec: SweepSpec): PlannedTrial[] {
  const total = countGrid(spec);
  if (total > spec.budget.maxTrials) {
    throw new SweepExpansionError(
      'budget.maxTrials',
      `the grid has ${total} trials, more than budget.maxTrials (${spec.budget.maxTrials}); raise the budget or shrink the search space`,
    );
  }
  const out: PlannedTrial[] = [];
  for (const v of spec.variants) {
    const variant = v as VariantName;
    for (const [r, alpha, lr, dropout, targetModules, rslora] of product(commonAxes(spec))) {
      for (const knobs of knobGrid(spec, variant)) {
        if (variant === 'adalora' && (knobs.targetR as number) > (r as number)) {
          throw new SweepExpansionError(
            'searchSpace.perVariant.adalora.targetR',
            `AdaLoRA's targetR (${knobs.targetR}) must not exceed its initial rank r (${r}); lower targetR or raise r`,
          );
        }
        const hyperparams: TrialHyperparams = {
          variant,
          r: r as number,
          alpha: alpha as number,
          lr: lr as number,
          // Delta-LoRA has no dropout on the adapter branch (its W update assumes the plain product).
          dropout: variant === 'deltalora' ? 0 : (dropout as number),
          targetModules: [...(targetModules as string[])],
          rslora: rslora as boolean,
          knobs,
          training: { ...spec.training },
        };
        out.push({ index: out.length, variant, hyperparams });
      }
    }
  }
  return out;
}

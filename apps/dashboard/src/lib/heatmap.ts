// AdaLoRA rank heatmap: the module × budget-step matrix, with steps binned to fit the width.

export interface RankStep {
  step: number;
  budget: number;
  ranks: Record<string, number>;
}

export interface RankMatrix {
  modules: string[];
  /** Representative step of each column (the last step of its bin). */
  steps: number[];
  /** values[moduleIndex][column]: the rank at the bin's last step (null when unknown). */
  values: (number | null)[][];
  max: number;
}

/** Natural order for module paths (transformer.h.2 before transformer.h.10). */
export function compareModules(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/**
 * Builds the matrix from the history (ascending steps), keeping at most `maxColumns` columns: when
 * there are more steps, consecutive steps are grouped into equal bins and each bin shows the ranks
 * of its last step (ranks only shrink in AdaLoRA, so the last value is the bin's outcome).
 */
export function rankMatrix(history: ReadonlyArray<RankStep>, maxColumns = 400): RankMatrix {
  const mods = new Set<string>();
  for (const h of history) for (const m of Object.keys(h.ranks)) mods.add(m);
  const modules = [...mods].sort(compareModules);
  const cols = Math.max(1, Math.min(maxColumns, history.length));
  const picks: number[] = [];
  if (history.length > 0) {
    for (let c = 0; c < cols; c++) picks.push(Math.min(history.length - 1, Math.floor(((c + 1) * history.length) / cols) - 1));
  }
  let max = 0;
  const values = modules.map((m) =>
    picks.map((i) => {
      const v = history[i].ranks[m];
      if (v === undefined) return null;
      if (v > max) max = v;
      return v;
    }),
  );
  return { modules, steps: picks.map((i) => history[i].step), values, max };
}

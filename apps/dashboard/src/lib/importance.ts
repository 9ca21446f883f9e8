// LoRA-drop importance chart data: modules by descending importance with their cumulative share.

export interface ImportanceRow {
  module: string;
  score: number;
  normalized: number;
  rank: number;
}

export interface ImportanceBar extends ImportanceRow {
  cumulative: number;
  selected: boolean;
}

/**
 * Sorts by importance (desc) and accumulates the normalized values. `selected` marks the plan's
 * modules when one is given; otherwise the rule: the top N, or modules until the cumulative
 * importance reaches `threshold` (the module that crosses it included).
 */
export function importanceBars(
  rows: ReadonlyArray<ImportanceRow>,
  opts: { selected?: ReadonlyArray<string> | null; threshold?: number | null; topN?: number | null } = {},
): ImportanceBar[] {
  const sorted = [...rows].sort((a, b) => b.normalized - a.normalized || a.module.localeCompare(b.module));
  const chosen = opts.selected ? new Set(opts.selected) : null;
  let cum = 0;
  return sorted.map((r, i) => {
    const before = cum;
    cum += r.normalized;
    let selected: boolean;
    if (chosen) selected = chosen.has(r.module);
    else if (opts.topN != null) selected = i < opts.topN;
    else if (opts.threshold != null) selected = before < opts.threshold - 1e-12;
    else selected = false;
    return { ...r, cumulative: cum, selected };
  });
}

// Display formatting: numbers, sizes, relative times.

export function fmtNum(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

export function fmtInt(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US');
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago" (future times read as "just now"). */
export function timeAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '–';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Duration between two ISO times (or until now), "1 h 02 min" / "3 min 05 s" / "12 s". */
export function fmtDuration(startIso: string | null | undefined, endIso?: string | null, now: number = Date.now()): string {
  if (!startIso) return '–';
  const a = Date.parse(startIso);
  const b = endIso ? Date.parse(endIso) : now;
  if (Number.isNaN(a) || Number.isNaN(b)) return '–';
  const s = Math.max(0, Math.round((b - a) / 1000));
  const p = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${p(Math.floor((s % 3600) / 60))} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${p(s % 60)} s`;
  return `${s} s`;
}

/** Axis tick labels with as many decimals as the spacing between ticks needs (0.0025, 0.003, …). */
export function tickLabels(splits: number[]): string[] {
  const finite = splits.filter((v) => Number.isFinite(v));
  let step = Infinity;
  for (let i = 1; i < finite.length; i++) step = Math.min(step, Math.abs(finite[i] - finite[i - 1]) || Infinity);
  const big = Math.max(...finite.map((v) => Math.abs(v)), 0);
  if (big !== 0 && (big < 1e-3 || big >= 1e7)) return splits.map((v) => (Number.isFinite(v) ? v.toExponential(1) : ''));
  // The fewest decimals that write the tick spacing exactly (0.25 → 2, 0.0005 → 4, 50 → 0).
  let decimals = 0;
  while (Number.isFinite(step) && decimals < 10) {
    const scaled = step * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) break;
    decimals++;
  }
  return splits.map((v) => (Number.isFinite(v) ? (decimals === 0 ? v.toLocaleString('en-US') : v.toFixed(decimals)) : ''));
}

// Preloaded into benchmark worker processes (`node --require …/worker-probe.js`, through
// NODE_OPTIONS) to count the SQL statements they send: every query through node-postgres (the
// driver under Prisma's adapter) is counted by its first words, and the counts are written as JSON
// to WORKER_PROBE_OUT when the process exits. With WORKER_PROBE_CPU_PROF (a folder) it also records
// a V8 CPU profile through the inspector (`--cpu-prof` is not allowed in NODE_OPTIONS) and writes
// it there at exit. Nest ends a worker on SIGTERM by re-raising the signal at itself, which skips
// 'exit', so that last kill becomes process.exit(). Nothing else changes in the worker.
import * as fs from 'node:fs';
import { Session } from 'node:inspector';
import * as path from 'node:path';

export interface ProbeReport {
  pid: number;
  /** CPU time (user + system) of the process from the bench's mark (SIGWINCH, sent before it submits) to its exit, in ms. */
  cpuMs: number;
  statements: number;
  /** Statement count by its normalised opening (first 80 characters, whitespace squeezed). */
  byText: Record<string, number>;
}

/** Options for `startWorkers` that preload this probe (and optionally profile) into each worker. */
/** Marks the start of the measured run in each probed worker (counts and profiles start there). */
export function markProbes(pids: number[]): void {
  for (const pid of pids) process.kill(pid, 'SIGWINCH');
}

export function probeEnv(o: { countSql?: string; cpuProfDir?: string }): Record<string, string> {
  const opts: string[] = [];
  if (o.countSql || o.cpuProfDir) opts.push(`--require ${__filename}`);
  return {
    ...(opts.length ? { NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', ...opts].join(' ').trim() } : {}),
    ...(o.countSql ? { WORKER_PROBE_OUT: o.countSql } : {}),
    ...(o.cpuProfDir ? { WORKER_PROBE_CPU_PROF: o.cpuProfDir } : {}),
  };
}

/** CPU time (ms, user + system) used so far by every process whose command name is `comm` (e.g. postgres). */
export function cpuOfProcesses(comm: string): number {
  const tick = 100; // USER_HZ on Linux
  let ms = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== comm) continue;
      const f = stat.slice(close + 2).split(' ');
      // utime, stime, cutime, cstime are fields 14-17 (1-based), i.e. 11-14 after the comm.
      ms += ((+f[11] + +f[12] + +f[13] + +f[14]) * 1000) / tick;
    } catch {
      /* gone */
    }
  }
  return ms;
}

/** Reads the reports the workers wrote under `dir` and sums them. */
export function readProbeReports(dir: string): { statements: number; cpuMs: number; byText: Array<[string, number]>; workers: number } {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  const byText = new Map<string, number>();
  let statements = 0;
  let cpuMs = 0;
  for (const f of files) {
    const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as ProbeReport;
    statements += r.statements;
    cpuMs += r.cpuMs;
    for (const [k, n] of Object.entries(r.byText)) byText.set(k, (byText.get(k) ?? 0) + n);
  }
  return { statements, cpuMs, byText: [...byText].sort((a, b) => b[1] - a[1]), workers: files.length };
}

function install(outDir: string): void {
  // The pg that Prisma's adapter loads (resolved from the adapter, in case it has its own copy).
  const pgPath = require.resolve('pg', { paths: [path.dirname(require.resolve('@prisma/adapter-pg'))] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pg = require(pgPath) as typeof import('pg');
  const report: ProbeReport = { pid: process.pid, cpuMs: 0, statements: 0, byText: {} };
  let mark = process.cpuUsage();
  onMark(() => {
    // Counts start again at the mark (boot and a warm-up stay out of them).
    mark = process.cpuUsage();
    report.statements = 0;
    report.byText = {};
  });
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : ((q as { text?: string } | null)?.text ?? '?');
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 80);
    report.statements++;
    report.byText[key] = (report.byText[key] ?? 0) + 1;
    return query.apply(this, args);
  };
  fs.mkdirSync(outDir, { recursive: true });
  process.on('exit', () => {
    const cpu = process.cpuUsage(mark);
    report.cpuMs = (cpu.user + cpu.system) / 1000;
    fs.writeFileSync(path.join(outDir, `${process.pid}.json`), JSON.stringify(report));
  });
}

/**
 * The bench marks the start of the measured run, so boot (module loading, registration) stays out
 * of the counts and the profile. SIGWINCH: Nest's shutdown hooks take SIGUSR2 and the usual others.
 */
function onMark(f: () => void): void {
  process.on('SIGWINCH', f);
}

function profile(outDir: string): void {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  onMark(() => session.post('Profiler.start'));
  fs.mkdirSync(outDir, { recursive: true });
  // The main thread's session answers synchronously, so this completes inside the exit handler.
  process.on('exit', () =>
    session.post('Profiler.stop', (err, r) => {
      if (!err) fs.writeFileSync(path.join(outDir, `worker-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    }),
  );
}

function exitCleanlyOnSignal(): void {
  const kill = process.kill.bind(process);
  process.kill = ((pid: number, signal?: string | number) => {
    if (pid === process.pid && (signal === 'SIGTERM' || signal === 'SIGINT')) process.exit(0);
    return kill(pid, signal);
  }) as typeof process.kill;
}

// Only in the processes that preload it (the bench itself imports probeEnv/readProbeReports).
if (process.env.NODE_OPTIONS?.includes(__filename)) {
  exitCleanlyOnSignal();
  if (process.env.WORKER_PROBE_OUT) install(process.env.WORKER_PROBE_OUT);
  if (process.env.WORKER_PROBE_CPU_PROF) profile(process.env.WORKER_PROBE_CPU_PROF);
}

// Starts a real worker process (the built dist/ entry point) with this run's env.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The repository root, from the sources (ts-jest) or from their build under dist/ (benchmarks).
const ROOT = path.resolve(__dirname, '../..').replace(/[\\/]dist$/, '');
export const WORKER_MAIN = path.join(ROOT, 'dist/apps/worker/src/main.js');

export interface WorkerProcess {
  child: ChildProcess;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Removes the log file (kept when KEEP_TEST_DATA=1). */
  removeLog(): void;
}

/** `wrap`: command words that run `node main.js` (e.g. `['ip', 'netns', 'exec', ns]`, which execs it: same pid). */
export function startWorker(env: Record<string, string> = {}, wrap: string[] = []): WorkerProcess {
  if (!fs.existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run "npm run build" first (npm test does)`);
  const logFile = path.join(os.tmpdir(), `lora-e2e-worker-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
  const out = fs.openSync(logFile, 'w');
  const [cmd, ...args] = [...wrap, process.execPath, WORKER_MAIN];
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  return {
    child,
    logFile,
    removeLog() {
      if (process.env.KEEP_TEST_DATA !== '1') fs.rmSync(logFile, { force: true });
    },
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      return new Promise((resolve) => {
        // Already gone (exited, or killed by a signal): 'exit' will not fire again.
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      });
    },
  };
}

export function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// Throwaway Redis and Postgres servers for fault tests: each on a free port under its own temp
// dir, restartable on the same port and dir (to simulate an outage), and always cleaned up.
// Every server started here is stopped when the Jest worker exits, even if a spec forgets to
// (or fails before it could), so no stray servers outlive the run.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { waitFor } from './wait';

export interface ThrowawayServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM, then SIGKILL), waits for its exit, starts it again on the same port and dir. */
  restart(opts?: { downtimeMs?: number }): Promise<{ downMs: number }>;
  /** Kills the server without restarting it. */
  kill(): Promise<void>;
  /** Stops the server and removes its dir (kept with KEEP_TEST_DATA=1). */
  stop(): Promise<void>;
  /** The server's log so far (last lines). */
  logTail(lines?: number): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A TCP port that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
  live.delete(child);
}

function spawnLogged(cmd: string, args: string[], logFile: string, ids?: { uid: number; gid: number }): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out], ...ids });
  fs.closeSync(out);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function readTail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function run(cmd: string, args: string[], ids?: { uid: number; gid: number }): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, ...ids }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------- Redis

export interface RedisServerOptions {
  /** Append-only file with fsync on every write (default true): a restart then loses nothing. */
  aof?: boolean;
  /** Addresses to listen on (default 127.0.0.1). */
  bind?: string[];
}

export async function startRedis(opts: RedisServerOptions = {}): Promise<ThrowawayServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-redis-'));
  const logFile = path.join(dir, 'redis.log');
  const port = await freePort();
  const bind = opts.bind ?? ['127.0.0.1'];
  const args = [
    '--port',
    String(port),
    '--bind',
    ...bind,
    '--dir',
    dir,
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    // Protected mode refuses non-loopback clients without a password: the extra binds are for them.
    ...(bind.some((a) => a !== '127.0.0.1' && a !== '::1') ? ['--protected-mode', 'no'] : []),
    ...(opts.aof === false ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always']),
  ];
  let child: ChildProcess;
  const ping = async () => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'])).out.trim() === 'PONG';
  const launch = async () => {
    child = spawnLogged('redis-server', args, logFile);
    await waitFor(
      `redis-server on port ${port} to answer PING`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}:\n${readTail(logFile)}`);
        return ping();
      },
      20_000,
      100,
    );
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    logTail: (lines) => readTail(logFile, lines),
    async restart({ downtimeMs = 0 } = {}) {
      const t0 = Date.now();
      // SIGTERM: redis-server fsyncs the AOF and exits cleanly.
      await terminate(child, 'SIGTERM');
      await sleep(downtimeMs - (Date.now() - t0));
      await launch();
      return { downMs: Date.now() - t0 };
    },
    async kill() {
      await terminate(child, 'SIGKILL');
    },
    async stop() {
      await terminate(child, 'SIGTERM');
      if (process.env.KEEP_TEST_DATA !== '1') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------------- Postgres

export interface PostgresServerOptions {
  /** listen_addresses (default 127.0.0.1). */
  listen?: string;
  /** Extra CIDRs that may connect without a password (e.g. a veth subnet). */
  trust?: string[];
}

/**
 * The ids postgres runs as: root may not run it, so use (or create) the `postgres` system user.
 * The server is spawned with these ids directly (not through runuser/su, which would stand
 * between us and postgres and turn a forwarded signal into SIGTERM + SIGKILL).
 */
function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot create the postgres system user: ${r.stderr}`);
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

function pgBin(name: string): string {
  for (const dir of ['/usr/local/bin', '/usr/lib/postgresql/15/bin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return name;
}

export async function startPostgres(opts: PostgresServerOptions = {}): Promise<ThrowawayServer> {
  const ids = postgresIds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.writeFileSync(logFile, '');
  if (ids) for (const p of [dir, data, logFile]) fs.chownSync(p, ids.uid, ids.gid);
  const init = await run(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], ids);
  if (init.code !== 0) throw new Error(`initdb failed:\n${init.out}`);
  if (opts.trust?.length) {
    fs.appendFileSync(path.join(data, 'pg_hba.conf'), opts.trust.map((cidr) => `host all all ${cidr} trust\n`).join(''));
  }
  const port = await freePort();
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', `listen_addresses=${opts.listen ?? '127.0.0.1'}`, '-c', 'fsync=off'];
  let child: ChildProcess;
  const launch = async () => {
    child = spawnLogged(pgBin('postgres'), args, logFile, ids);
    await waitFor(
      `postgres on port ${port} to accept connections`,
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited ${child.exitCode}:\n${readTail(logFile)}`);
        return (await run('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'])).code === 0;
      },
      30_000,
      100,
    );
  };
  await launch();
  const admin = new Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE test');
  await admin.end();
  // SIGINT is Postgres's "fast" shutdown (pg_ctl -m fast): roll back open transactions, disconnect, checkpoint.
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/test`,
    port,
    dir,
    logTail: (lines) => readTail(logFile, lines),
    async restart({ downtimeMs = 0 } = {}) {
      const t0 = Date.now();
      await terminate(child, 'SIGINT', 20_000);
      await sleep(downtimeMs - (Date.now() - t0));
      await launch();
      return { downMs: Date.now() - t0 };
    },
    async kill() {
      await terminate(child, 'SIGKILL');
    },
    async stop() {
      await terminate(child, 'SIGINT', 20_000);
      if (process.env.KEEP_TEST_DATA !== '1') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

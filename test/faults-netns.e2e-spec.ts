// Fault injection: a worker on "another host". The worker runs in a network namespace of its own,
// reaching throwaway Redis and Postgres only over a veth link (it cannot see the host's
// 127.0.0.1); it registers under its own host name, runs a trial, and when the link goes away
// (the host drops off the network) the API flags it lost after 3 missed heartbeats.
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { applyMigrations } from '../libs/db/src/migrate';
import { startStack, type Stack } from './support/stack';
import { startPostgres, startRedis, type ThrowawayServer } from './support/throwaway';
import { waitFor } from './support/wait';
import { tail } from './support/worker-process';
import { sweepWithTrials } from './support/sweeps';

jest.setTimeout(5 * 60_000);

const HEARTBEAT_MS = 500;
const tag = randomBytes(3).toString('hex');
const NS = `lora-${tag}`;
const VETH_HOST = `vl${tag}h`;
const VETH_NS = `vl${tag}n`;
const WORKER_HOST = `netns-host-${tag}`;

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run "ip ${args.join(' ')}": ${r.error.message} (is iproute2 installed?)`);
  if (r.status !== 0) throw new Error(`"ip ${args.join(' ')}" failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** A 10.200.X.0/24 that no interface on this host uses yet. */
function freeSubnet(): number {
  const used = ip('-4', '-o', 'addr', 'show');
  for (let i = 0; i < 50; i++) {
    const x = randomInt(1, 255);
    if (!used.includes(`10.200.${x}.`)) return x;
  }
  throw new Error('no free 10.200.X.0/24 subnet found');
}

function cleanupNetwork(): void {
  // Deleting the namespace destroys its veth end and with it the pair; the host end is removed too in case.
  spawnSync('ip', ['netns', 'del', NS]);
  spawnSync('ip', ['link', 'del', VETH_HOST]);
}

describe('fault injection: a worker in its own network namespace', () => {
  let x = 0;
  let hostIp = '';
  let redis: ThrowawayServer | undefined;
  let pg: ThrowawayServer | undefined;
  let stack: Stack | undefined;
  const onExit = () => cleanupNetwork();

  beforeAll(async () => {
    process.once('exit', onExit);
    try {
      ip('netns', 'add', NS);
    } catch (e) {
      throw new Error(
        `this test needs network namespaces (root, CAP_SYS_ADMIN and CAP_NET_ADMIN; "ip netns add" must work): ${(e as Error).message}`,
        { cause: e },
      );
    }
    x = freeSubnet();
    hostIp = `10.200.${x}.1`;
    ip('link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_NS);
    ip('link', 'set', VETH_NS, 'netns', NS);
    ip('addr', 'add', `${hostIp}/24`, 'dev', VETH_HOST);
    ip('link', 'set', VETH_HOST, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `10.200.${x}.2/24`, 'dev', VETH_NS);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', VETH_NS, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');

    redis = await startRedis({ aof: true, bind: ['127.0.0.1', hostIp] });
    pg = await startPostgres({ listen: `127.0.0.1,${hostIp}`, trust: [`10.200.${x}.0/24`] });
    const schema = `netns_${tag}`;
    await applyMigrations({ connectionString: pg.url, schema });
    // The API (here) uses 127.0.0.1; the worker, in the namespace, the host's veth address.
    const over = (url: string) => url.replace('127.0.0.1', hostIp);
    stack = await startStack(
      'netns',
      {
        DATABASE_URL: over(pg.url),
        REDIS_URL: over(redis.url),
        WORKER_HOST,
        WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS),
      },
      {
        databaseUrl: pg.url,
        databaseSchema: schema,
        redisUrl: redis.url,
        heartbeatMs: HEARTBEAT_MS,
        workerWrap: ['ip', 'netns', 'exec', NS],
      },
    );
  });

  afterAll(async () => {
    try {
      await stack?.stop();
      await redis?.stop();
      await pg?.stop();
    } finally {
      cleanupNetwork();
      process.removeListener('exit', onExit);
    }
    expect(ip('netns', 'list')).not.toContain(NS);
  });

  it('the namespace cannot reach the host loopback, only the veth address', () => {
    const probe = (host: string, port: number) =>
      spawnSync('ip', ['netns', 'exec', NS, 'redis-cli', '-h', host, '-p', String(port), 'PING'], { encoding: 'utf8', timeout: 10_000 });
    expect(probe(hostIp, redis!.port).stdout.trim()).toBe('PONG');
    expect(probe('127.0.0.1', redis!.port).stdout.trim()).not.toBe('PONG');
  });

  it('runs a trial on the namespaced worker, and flags it lost once its link is gone', async () => {
    const s = stack!;
    const workers = (await s.http('GET', '/workers')).data as Array<{
      id: string;
      host: string;
      pid: number;
      status: string;
      lost: boolean;
    }>;
    const me = workers.find((w) => w.pid === s.worker.child.pid);
    expect(me).toMatchObject({ host: WORKER_HOST, status: 'online', lost: false });
    expect(me!.id.startsWith(`${WORKER_HOST}:`)).toBe(true);

    const submitted = await s.http('POST', '/sweeps', {
      name: 'faults: netns worker',
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      searchSpace: { r: [2], lr: [1e-3] },
      training: { steps: 20, batchSize: 2, seqLen: 32, evalEvery: 10, evalBatches: 2, logEvery: 1 },
    });
    expect(submitted.status).toBe(201);
    const sweepId = submitted.data.id as string;
    const done = await waitFor(
      'the sweep to finish on the namespaced worker',
      async () => {
        const sw = (await s.http('GET', `/sweeps/${sweepId}`)).data;
        // The sweep's status is refreshed just after its last trial's: wait for both.
        return sw.progress?.done === 1 && !['queued', 'running'].includes(sw.status) ? sweepWithTrials(s.http, sweepId) : null;
      },
      3 * 60_000,
      500,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- worker log ---\n${tail(s.worker.logFile, 60)}`);
    });
    expect(done.status).toBe('succeeded');
    const trial = (await s.http('GET', `/trials/${done.trials[0].id}`)).data;
    // On a mismatch, show the attempts and the worker's log (why it needed more than one attempt).
    if (trial.attempts.length !== 1) console.log(JSON.stringify(trial.attempts, null, 1), tail(s.worker.logFile, 40));
    expect(trial.status).toBe('succeeded');
    expect(trial.attempts.map((a: { status: string; workerId: string }) => [a.status, a.workerId])).toEqual([['succeeded', me!.id]]);
    const stepsLogged = (await s.http('GET', `/trials/${trial.id}/metrics?name=loss&split=train`)).data.length;
    expect(stepsLogged).toBe(20);

    // Heartbeats cross the link: still not lost several intervals after registering.
    await new Promise((r) => setTimeout(r, 4 * HEARTBEAT_MS));
    expect((await s.http('GET', '/workers')).data.find((w: { id: string }) => w.id === me!.id)).toMatchObject({
      status: 'online',
      lost: false,
    });

    // The host drops off the network: its heartbeats stop reaching Postgres.
    const cut = Date.now();
    ip('link', 'del', VETH_HOST);
    const lost = await waitFor(
      'the API to flag the worker lost',
      async () => {
        const w = ((await s.http('GET', '/workers')).data as Array<{ id: string; lost: boolean; heartbeatAt: string }>).find(
          (w) => w.id === me!.id,
        );
        return w?.lost ? w : null;
      },
      30_000,
      100,
    );
    const lostAfterMs = Date.now() - cut;
    const silentMs = Date.now() - new Date(lost.heartbeatAt).getTime();
    console.log(
      `[netns] worker ${me!.id} (pid ${me!.pid}) flagged lost ${lostAfterMs} ms after its link was deleted ` +
        `(last heartbeat ${silentMs} ms before; threshold ${3 * HEARTBEAT_MS} ms)`,
    );
    expect(silentMs).toBeGreaterThan(3 * HEARTBEAT_MS);
    expect(lostAfterMs).toBeLessThan(3 * HEARTBEAT_MS + 5_000);
    // The process is still alive (only unreachable): the API saw it go silent, not go offline.
    expect(s.worker.child.exitCode).toBeNull();
    await s.worker.stop('SIGKILL');
  });
});

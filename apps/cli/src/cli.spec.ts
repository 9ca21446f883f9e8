import { zipSync } from 'fflate';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './cli';
import { FakeApi, fakeDeps, summaryOf, sweep, SWEEP_ID, trial, TRIAL_A, TRIAL_B, unreachableFetch } from './testing/fake-api';

const BASE = 'http://api.test:3000';
const notFound = (what: string, id: string) => ({
  status: 404,
  json: { statusCode: 404, message: `${what} ${id} not found`, error: 'Not Found' },
});

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-cli-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(api: FakeApi, args: string[], extra = {}) {
  const deps = fakeDeps(api, { cwd: dir, ...extra });
  const code = await runCli(['--api', BASE, ...args], deps);
  return { code, out: deps.stdout.text, err: deps.stderr.text };
}

const SPEC_YAML = 'baseModel: sotu-gpt2-small\ndataset: moby-dick\nvariants: [lora]\nsearchSpace:\n  r: [4, 0]\ntraining:\n  steps: 6\n';

describe('lora sweep submit', () => {
  it('posts the parsed file with a content-hash Idempotency-Key and prints id, trials and the watch command', async () => {
    fs.writeFileSync(path.join(dir, 's.yaml'), SPEC_YAML);
    const api = new FakeApi().on('POST', '/sweeps', { status: 201, json: summaryOf(sweep([trial(TRIAL_A, 0, 4), trial(TRIAL_B, 1, 8)])) });
    const r = await run(api, ['sweep', 'submit', 's.yaml']);
    expect(r.code).toBe(0);
    const req = api.requests[0];
    expect(req.body).toEqual({
      baseModel: 'sotu-gpt2-small',
      dataset: 'moby-dick',
      variants: ['lora'],
      searchSpace: { r: [4, 0] },
      training: { steps: 6 },
    });
    expect(req.headers['idempotency-key']).toBe(`sha256-${createHash('sha256').update(SPEC_YAML).digest('hex')}`);
    expect(r.out).toContain(`submitted sweep ${SWEEP_ID} "test sweep": 2 trials`);
    expect(r.out).toContain(`watch it with: lora --api ${BASE} sweep watch ${SWEEP_ID}`);
  });

  it('says when the same content was submitted before (200) and honours --idempotency-key', async () => {
    fs.writeFileSync(path.join(dir, 's.json'), JSON.stringify({ baseModel: 'm', dataset: 'd', variants: ['lora'] }));
    const api = new FakeApi().on('POST', '/sweeps', { status: 200, json: summaryOf(sweep([trial(TRIAL_A, 0, 4)])) });
    const r = await run(api, ['sweep', 'submit', 's.json', '--idempotency-key', 'k-1']);
    expect(r.code).toBe(0);
    expect(api.requests[0].headers['idempotency-key']).toBe('k-1');
    expect(r.out).toContain(`sweep ${SWEEP_ID} was already submitted`);
  });

  it('a 400 exits 2 with each field error and the line of the file it points at', async () => {
    fs.writeFileSync(path.join(dir, 's.yaml'), SPEC_YAML);
    const errors = [
      { field: 'searchSpace.r.1', message: 'rank must be > 0' },
      { field: 'dataset', message: 'unknown dataset "moby-dick"; registered: sotu' },
    ];
    const api = new FakeApi().on('POST', '/sweeps', { status: 400, json: { statusCode: 400, message: 'Invalid sweep: …', errors } });
    const r = await run(api, ['sweep', 'submit', 's.yaml']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toEqual([
      'error: s.yaml: the API rejected the sweep (2 errors):',
      'searchSpace.r.1: rank must be > 0',
      '  --> s.yaml:5:10',
      '  5 |   r: [4, 0]',
      '    |          ^',
      'dataset: unknown dataset "moby-dick"; registered: sotu',
      '  --> s.yaml:2:1',
      '  2 | dataset: moby-dick',
      '    | ^',
      '',
    ]);
  });

  it('--json errors are JSON on stderr', async () => {
    fs.writeFileSync(path.join(dir, 's.yaml'), SPEC_YAML);
    const api = new FakeApi().on('POST', '/sweeps', {
      status: 400,
      json: { errors: [{ field: 'searchSpace.r.1', message: 'rank must be > 0' }] },
    });
    const r = await run(api, ['--json', 'sweep', 'submit', 's.yaml']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err)).toMatchObject({ exitCode: 2, details: expect.arrayContaining(['searchSpace.r.1: rank must be > 0']) });
  });

  it('a 409 (key reused for another body) exits 1 with the hint', async () => {
    fs.writeFileSync(path.join(dir, 's.yaml'), SPEC_YAML);
    const api = new FakeApi().on('POST', '/sweeps', {
      status: 409,
      json: { statusCode: 409, message: 'Idempotency-Key "x" was already used' },
    });
    const r = await run(api, ['sweep', 'submit', 's.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: Idempotency-Key "x" was already used\npass --idempotency-key');
  });

  it('a missing or broken file exits 2 naming it, without calling the API', async () => {
    const api = new FakeApi();
    let r = await run(api, ['sweep', 'submit', 'nope.yaml']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: cannot read nope.yaml: no such file\n');
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'baseModel: m\nvariants: [lora\n');
    r = await run(api, ['sweep', 'submit', 'bad.yaml']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: bad\.yaml:\d+:\d+: invalid YAML/);
    expect(api.requests).toHaveLength(0);
  });

  it('--json prints the sweep', async () => {
    fs.writeFileSync(path.join(dir, 's.yaml'), SPEC_YAML);
    const api = new FakeApi().on('POST', '/sweeps', { status: 201, json: summaryOf(sweep([trial(TRIAL_A, 0, 4)])) });
    const r = await run(api, ['sweep', 'submit', 's.yaml', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ id: SWEEP_ID, replayed: false, progress: { total: 1 } });
    expect(JSON.parse(r.out)).not.toHaveProperty('trials');
  });
});

describe('errors and exit codes', () => {
  it('an unreachable API exits 1 with the hint', async () => {
    const deps = fakeDeps(new FakeApi(), { fetch: unreachableFetch() });
    const code = await runCli(['--api', 'http://127.0.0.1:9', 'sweep', 'list'], deps);
    expect(code).toBe(1);
    expect(deps.stderr.text).toBe('error: cannot reach the API at http://127.0.0.1:9 (is it running? set --api or LORA_API_URL)\n');
  });

  it('uses LORA_API_URL when --api is not given', async () => {
    const api = new FakeApi().on('GET', '/sweeps', { json: { total: 0, items: [] } });
    const deps = fakeDeps(api, { env: { LORA_API_URL: 'http://from-env:7000/' } });
    expect(await runCli(['sweep', 'list'], deps)).toBe(0);
    expect(api.requests[0].url.origin).toBe('http://from-env:7000');
    expect(deps.stdout.text).toContain('no sweeps yet');
  });

  it('an unknown sweep exits 1: "sweep <id> not found"', async () => {
    const api = new FakeApi().on('GET', '/sweeps/[^/]+', notFound('sweep', SWEEP_ID));
    const r = await run(api, ['sweep', 'show', SWEEP_ID]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: sweep ${SWEEP_ID} not found\n`);
    expect((await run(api, ['sweep', 'watch', SWEEP_ID])).err).toBe(`error: sweep ${SWEEP_ID} not found\n`);
  });

  it('a 400 on an id exits 2 with the field error', async () => {
    const api = new FakeApi().on('GET', '/sweeps/[^/]+', {
      status: 400,
      json: { message: 'Invalid id', errors: [{ field: '(body)', message: 'must be a UUID' }] },
    });
    const r = await run(api, ['sweep', 'show', 'abc']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: the API rejected the request:\n(body): must be a UUID\n');
  });

  it.each([
    [['sweep', 'show'], /missing required argument 'id'/],
    [['sweep', 'frobnicate'], /unknown command 'frobnicate'/],
    [['sweep', 'leaderboard', SWEEP_ID, '--top', 'ten'], /--top must be a positive integer/],
    [['adapter', 'download', TRIAL_A, '--format', 'gguf'], /Allowed choices are peft, merged/],
    [['sweep'], /Usage: lora sweep/],
    [['--api', 'not a url', 'sweep', 'list'], /--api: "not a url" is not a URL/],
  ])('bad usage %j exits 2', async (args, message) => {
    const r = await run(new FakeApi(), args as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--help exits 0', async () => {
    const r = await run(new FakeApi(), ['sweep', 'submit', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('--idempotency-key <key>');
  });
});

describe('list, show, leaderboard, trial show', () => {
  const done = sweep([
    trial(TRIAL_A, 0, 4, {
      status: 'succeeded',
      trainableParams: 22528,
      baselineEvalLoss: 2.011,
      finalEvalLoss: 1.846,
      tokensPerSec: 2500,
    }),
    trial(TRIAL_B, 1, 8, {
      status: 'succeeded',
      trainableParams: 45056,
      baselineEvalLoss: 2.011,
      finalEvalLoss: 1.834,
      tokensPerSec: 2400,
    }),
  ]);

  it('sweep list', async () => {
    const api = new FakeApi().on('GET', '/sweeps', { json: { total: 3, items: [summaryOf(done)] } });
    const r = await run(api, ['sweep', 'list', '--take', '1']);
    expect(r.code).toBe(0);
    expect(api.requests[0].url.search).toBe('?take=1');
    expect(r.out).toMatch(new RegExp(`${SWEEP_ID}\\s+test sweep\\s+succeeded\\s+2/2\\s+sotu-gpt2-small\\s+moby-dick`));
    expect(r.out).toContain('(1 of 3; --take N for more)');
  });

  it('sweep show prints the trials table', async () => {
    const api = new FakeApi().onSweep(SWEEP_ID, () => done);
    const r = await run(api, ['sweep', 'show', SWEEP_ID]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('status:   succeeded, 2/2 done (2 succeeded)');
    expect(r.out).toMatch(/1\s+lora\s+8\s+0\.003\s+succeeded\s+45,056\s+2\.0110 → 1\.8340\s+2,400/);
  });

  it('sweep show reads the summary, then the trials page by page', async () => {
    const many = sweep(Array.from({ length: 501 }, (_, i) => trial(`${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`, i, 4)));
    const api = new FakeApi().onSweep(SWEEP_ID, () => many);
    const r = await run(api, ['--json', 'sweep', 'show', SWEEP_ID]);
    expect(r.code).toBe(0);
    expect(api.requests.map((q) => `${q.path}${q.url.search}`)).toEqual([
      `/sweeps/${SWEEP_ID}`,
      `/sweeps/${SWEEP_ID}/trials?take=500&skip=0`,
      `/sweeps/${SWEEP_ID}/trials?take=500&skip=500`,
    ]);
    expect(JSON.parse(r.out).trials.map((t: { index: number }) => t.index)).toEqual([...Array(501).keys()]);
  });

  it('sweep leaderboard asks the API for the top N', async () => {
    const api = new FakeApi().on('GET', `/sweeps/${SWEEP_ID}/leaderboard`, {
      json: [
        { rank: 1, ...done.trials[1] },
        { rank: 2, ...done.trials[0] },
      ],
    });
    const r = await run(api, ['sweep', 'leaderboard', SWEEP_ID, '--top', '2']);
    expect(r.code).toBe(0);
    expect(api.requests[0].url.search).toBe('?take=2');
    const rows = r.out.trim().split('\n');
    expect(rows[1]).toMatch(new RegExp(`^\\s*1\\s+1\\s+lora\\s+8\\s+16\\s+0\\.003\\s+1\\.8340\\s+-0\\.1770.*${TRIAL_B}$`));
  });

  it('sweep leaderboard ranks locally on an API without the route', async () => {
    const api = new FakeApi().onSweep(SWEEP_ID, () => done);
    const r = await run(api, ['sweep', 'leaderboard', SWEEP_ID, '--top', '1']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(2);
    expect(r.out).toContain(TRIAL_B);
  });

  it('trial show prints attempts and checkpoints', async () => {
    const api = new FakeApi()
      .on('GET', `/trials/${TRIAL_A}`, {
        json: {
          ...done.trials[0],
          sweep: { id: SWEEP_ID, name: 'test sweep' },
          attempts: [
            {
              id: 'x',
              number: 1,
              status: 'succeeded',
              workerId: 'w',
              backend: 'wasm',
              device: 'cpu',
              lastStep: 6,
              error: null,
              startedAt: '2026-11-23T03:00:00.000Z',
              finishedAt: '2026-11-23T03:00:10.000Z',
            },
          ],
        },
      })
      .on('GET', `/trials/${TRIAL_A}/checkpoints`, {
        json: [
          {
            id: 'cp-1',
            trialId: TRIAL_A,
            step: 6,
            format: 'peft-lora',
            sizeBytes: 90_000,
            sha256: 'f'.repeat(64),
            isFinal: true,
            createdAt: '',
          },
        ],
      });
    const r = await run(api, ['trial', 'show', TRIAL_A]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('eval loss:  2.0110 → 1.8460');
    expect(r.out).toMatch(/1\s+succeeded\s+wasm\s+cpu\s+6\s+2026-11-23 03:00:00Z/);
    expect(r.out).toMatch(/6\s+yes\s+87\.9 KiB\s+ffffffffffffffff\s+cp-1/);
  });
});

describe('cancel and rerun', () => {
  it.each([
    [['sweep', 'cancel', SWEEP_ID], `/sweeps/${SWEEP_ID}/cancel`, { cancelled: [TRIAL_A, TRIAL_B] }, 'cancelled 2 trials:'],
    [['sweep', 'rerun-failed', SWEEP_ID], `/sweeps/${SWEEP_ID}/rerun-failed`, { requeued: [TRIAL_B] }, 'requeued 1 trial:'],
    [['trial', 'cancel', TRIAL_A], `/trials/${TRIAL_A}/cancel`, { cancelled: [TRIAL_A] }, 'cancelled 1 trial:'],
    [['trial', 'rerun', TRIAL_A], `/trials/${TRIAL_A}/rerun`, { requeued: [TRIAL_A] }, 'requeued 1 trial:'],
  ])('%j posts %s and prints the summary', async (args, route, answer, line) => {
    const api = new FakeApi().on('POST', route, { status: 202, json: answer });
    const r = await run(api, args);
    expect(r.code).toBe(0);
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual([`POST ${route}`]);
    expect(r.out).toContain(line);
    for (const id of Object.values(answer)[0]) expect(r.out).toContain(`    ${id}`);
    const j = await run(api, ['--json', ...args]);
    expect(JSON.parse(j.out)).toEqual(answer);
  });

  it.each([
    [['sweep', 'cancel', SWEEP_ID], 'cancelling sweeps'],
    [['sweep', 'rerun-failed', SWEEP_ID], 'rerunning failed trials'],
    [['trial', 'cancel', TRIAL_A], 'cancelling trials'],
    [['trial', 'rerun', TRIAL_A], 'rerunning trials'],
  ])('%j on an API without the route: "does not support %s yet", exit 1', async (args, feature) => {
    const r = await run(new FakeApi(), args);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: this API does not support ${feature} yet\n`);
  });

  it('unknown ids and conflicts exit 1 with the message', async () => {
    const api = new FakeApi()
      .on('POST', '/sweeps/[^/]+/cancel', notFound('sweep', SWEEP_ID))
      .on('POST', '/trials/[^/]+/rerun', {
        status: 409,
        json: { statusCode: 409, message: `trial ${TRIAL_A} is running; only finished trials can be rerun` },
      })
      .on('POST', '/trials/[^/]+/cancel', notFound('trial', TRIAL_B));
    expect(await run(api, ['sweep', 'cancel', SWEEP_ID])).toMatchObject({ code: 1, err: `error: sweep ${SWEEP_ID} not found\n` });
    expect(await run(api, ['trial', 'rerun', TRIAL_A])).toMatchObject({
      code: 1,
      err: `error: trial ${TRIAL_A} is running; only finished trials can be rerun\n`,
    });
    expect(await run(api, ['trial', 'cancel', TRIAL_B])).toMatchObject({ code: 1, err: `error: trial ${TRIAL_B} not found\n` });
  });
});

describe('lora adapter download', () => {
  const weights = new Uint8Array([1, 2, 3, 4, 5]);
  const sha = createHash('sha256').update(weights).digest('hex');
  const config = new TextEncoder().encode('{"peft_type":"LORA"}');
  const zip = zipSync({ 'trial-aaaaaaaa-step-6': { 'adapter_config.json': config, 'adapter_model.safetensors': weights } });
  const cps = [
    { id: 'cp-3', trialId: TRIAL_A, step: 3, format: 'peft-lora', sizeBytes: 5, sha256: sha, isFinal: false, createdAt: '' },
    { id: 'cp-6', trialId: TRIAL_A, step: 6, format: 'peft-lora', sizeBytes: 5, sha256: sha, isFinal: true, createdAt: '' },
  ];
  const apiWith = (headerSha: string) =>
    new FakeApi()
      .on('GET', `/trials/${TRIAL_A}/checkpoints`, { json: cps })
      .on('GET', '/checkpoints/[^/]+/download', { bytes: zip, headers: { 'x-checkpoint-sha256': headerSha } });

  it('downloads the final checkpoint, verifies sha256 and unpacks into ./adapter-<trial8>', async () => {
    const api = apiWith(sha);
    const r = await run(api, ['adapter', 'download', TRIAL_A]);
    expect(r.code).toBe(0);
    expect(api.requests[1].path).toBe('/checkpoints/cp-6/download');
    const out = path.join(dir, 'adapter-aaaaaaaa');
    expect(fs.readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(fs.readFileSync(path.join(out, 'adapter_model.safetensors'))).toEqual(Buffer.from(weights));
    expect(r.out).toContain(`${path.join(out, 'adapter_model.safetensors')}  (5 B)`);
    expect(r.out).toContain(`sha256 ${sha} verified`);
  });

  it('--step, --out and --format merged', async () => {
    const api = apiWith(sha);
    const r = await run(api, ['adapter', 'download', TRIAL_A, '--step', '3', '--out', 'x/y', '--format', 'merged']);
    expect(r.code).toBe(0);
    expect(api.requests[1].url.pathname + api.requests[1].url.search).toBe('/checkpoints/cp-3/download?format=merged');
    expect(fs.existsSync(path.join(dir, 'x/y/adapter_model.safetensors'))).toBe(true);
  });

  it('a sha256 mismatch exits 1 and writes nothing', async () => {
    const r = await run(apiWith('0'.repeat(64)), ['adapter', 'download', TRIAL_A]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /sha256 mismatch for adapter_model\.safetensors: got [0-9a-f]{64}, the X-Checkpoint-Sha256 header says 0{64}; nothing was written/,
    );
    expect(fs.existsSync(path.join(dir, 'adapter-aaaaaaaa'))).toBe(false);
  });

  it('an unknown trial or step exits 1', async () => {
    const api = new FakeApi().on('GET', '/trials/[^/]+/checkpoints', notFound('trial', TRIAL_B));
    expect(await run(api, ['adapter', 'download', TRIAL_B])).toMatchObject({ code: 1, err: `error: trial ${TRIAL_B} not found\n` });
    const r = await run(apiWith(sha), ['adapter', 'download', TRIAL_A, '--step', '5']);
    expect(r).toMatchObject({ code: 1, err: `error: trial ${TRIAL_A} has no checkpoint at step 5; checkpoints at steps: 3, 6\n` });
  });
});

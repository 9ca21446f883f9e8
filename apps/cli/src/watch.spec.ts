import { runCli } from './cli';
import { InterruptedError } from './errors';
import { FakeApi, fakeDeps, summaryOf, sweep, SWEEP_ID, trial, TRIAL_A, TRIAL_B } from './testing/fake-api';
import { bestTrial, outcome } from './watch';
import type { SweepView, TrialView } from './types';

const BASE = 'http://api.test:3000';

/** A sweep that moves one state per poll: queued → A running → A done, B running → both done. */
function scriptedApi(final: 'succeeded' | 'failed') {
  const states = [
    sweep([trial(TRIAL_A, 0, 4), trial(TRIAL_B, 1, 8)]),
    sweep([trial(TRIAL_A, 0, 4, { status: 'running', baselineEvalLoss: 2.0 }), trial(TRIAL_B, 1, 8)]),
    sweep([
      trial(TRIAL_A, 0, 4, { status: 'succeeded', baselineEvalLoss: 2.0, finalEvalLoss: 1.9, trainableParams: 100, tokensPerSec: 1000 }),
      trial(TRIAL_B, 1, 8, { status: 'running', baselineEvalLoss: 2.0 }),
    ]),
    sweep(
      [
        trial(TRIAL_A, 0, 4, { status: 'succeeded', baselineEvalLoss: 2.0, finalEvalLoss: 1.9, trainableParams: 100, tokensPerSec: 1000 }),
        final === 'succeeded'
          ? trial(TRIAL_B, 1, 8, {
              status: 'succeeded',
              baselineEvalLoss: 2.0,
              finalEvalLoss: 1.8,
              trainableParams: 200,
              tokensPerSec: 900,
            })
          : trial(TRIAL_B, 1, 8, { status: 'failed', baselineEvalLoss: 2.0, error: 'out of memory' }),
      ],
      final === 'failed' ? { status: 'failed' } : {},
    ),
  ];
  let poll = 0;
  const points: Record<string, Array<{ step: number; split: string; name: string; value: number }>> = {
    [TRIAL_A]: [1, 2, 3, 4, 5, 6].map((s) => ({ step: s, split: 'train', name: 'loss', value: 3 - s / 10 })),
    [TRIAL_B]: [1, 2, 3].map((s) => ({ step: s, split: 'train', name: 'loss', value: 3 - s / 5 })),
  };
  const evals: Record<string, Array<{ step: number; split: string; name: string; value: number }>> = {
    [TRIAL_A]: [{ step: 0, split: 'eval', name: 'loss', value: 2.0 }],
    [TRIAL_B]: [
      { step: 0, split: 'eval', name: 'loss', value: 2.0 },
      { step: 3, split: 'eval', name: 'loss', value: 1.5 },
    ],
  };
  const api = new FakeApi()
    .onSweep(SWEEP_ID, () => states[Math.min(poll++, states.length - 1)])
    .on('GET', '/trials/[^/]+/metrics', (req) => {
      const id = req.path.split('/')[2];
      const after = Number(req.url.searchParams.get('afterStep'));
      const list = req.url.searchParams.get('split') === 'eval' ? evals[id] : points[id];
      return { json: list.filter((p) => p.step > after) };
    });
  return api;
}

describe('lora sweep watch', () => {
  it('follows the sweep to the end, fetching only new metric points; exit 0 and names the best trial', async () => {
    const api = scriptedApi('succeeded');
    const deps = fakeDeps(api);
    const code = await runCli(['--api', BASE, 'sweep', 'watch', SWEEP_ID], deps);
    expect(code).toBe(0);
    const metricCalls = api.requests
      .filter((r) => r.path.endsWith('/metrics'))
      .map((r) => `${r.path.split('/')[2].slice(0, 1)} ${r.url.searchParams.get('split')} ${r.url.searchParams.get('afterStep')}`);
    // A while running (and once more as it finishes), B likewise; each call starts after the last step seen.
    expect(metricCalls).toEqual(['a train 0', 'a eval -1', 'a train 6', 'a eval 0', 'b train 0', 'b eval -1', 'b train 3', 'b eval 3']);
    const out = deps.stdout.text;
    expect(out).toMatch(/#0 lora r=4 running/);
    expect(out).toMatch(/sweep 0\/2 done \| #0 lora r=4 6\/6 loss 2\.4000/);
    expect(out).toContain('#0 lora r=4 succeeded: eval loss 2.0000 → 1.9000');
    expect(out).toMatch(/#1 lora r=8 3\/6 loss 2\.4000 \| best #1 lora r=8 eval 1\.5000 \(so far\)/);
    expect(out).toContain(`sweep ${SWEEP_ID} succeeded: 2 trials`);
    expect(out).toContain(`best trial: ${TRIAL_B}  #1 lora r=8  eval loss 2.0000 → 1.8000`);
    expect(out).toContain(`download its adapter: lora --api ${BASE} adapter download ${TRIAL_B}`);
    expect(deps.stderr.text).toBe('');
  });

  it('exits 1 when the sweep fails, naming the failed trial', async () => {
    const deps = fakeDeps(scriptedApi('failed'));
    const code = await runCli(['--api', BASE, 'sweep', 'watch', SWEEP_ID], deps);
    expect(code).toBe(1);
    expect(deps.stdout.text).toContain(`sweep ${SWEEP_ID} failed`);
    expect(deps.stdout.text).toContain('#1 lora r=8 failed: out of memory');
    expect(deps.stdout.text).toContain(`best trial: ${TRIAL_A}`);
    expect(deps.stdout.text).toContain(`rerun them with: lora --api ${BASE} sweep rerun-failed ${SWEEP_ID}`);
  });

  it('--json prints one event per line and a final "done" event', async () => {
    const deps = fakeDeps(scriptedApi('succeeded'));
    expect(await runCli(['--api', BASE, '--json', 'sweep', 'watch', SWEEP_ID], deps)).toBe(0);
    const events = deps.stdout.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toContain('progress');
    expect(events[events.length - 1]).toMatchObject({ event: 'done', status: 'succeeded', best: { trialId: TRIAL_B, evalLoss: 1.8 } });
  });

  it('Ctrl-C stops watching (exit 130) and leaves the sweep alone', async () => {
    const api = scriptedApi('succeeded');
    const controller = new AbortController();
    const deps = fakeDeps(api, {
      signal: controller.signal,
      sleep: async () => {
        controller.abort();
        throw new InterruptedError();
      },
    });
    const code = await runCli(['--api', BASE, 'sweep', 'watch', SWEEP_ID], deps);
    expect(code).toBe(130);
    expect(deps.stderr.text).toContain(`stopped watching sweep ${SWEEP_ID}; it keeps running`);
    expect(api.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('rides out a few failed polls, then gives up', async () => {
    let calls = 0;
    const done = sweep([trial(TRIAL_A, 0, 4, { status: 'succeeded', finalEvalLoss: 1.5, baselineEvalLoss: 2 })]);
    const flaky = async (url: string, init?: RequestInit) => {
      if (++calls <= 2) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      return new FakeApi().onSweep(SWEEP_ID, () => done).fetch(url, init);
    };
    const deps = fakeDeps(new FakeApi(), { fetch: flaky });
    expect(await runCli(['--api', BASE, 'sweep', 'watch', SWEEP_ID], deps)).toBe(0);
    expect(deps.stderr.text).toMatch(/cannot reach the API at http:\/\/api\.test:3000; retrying \(1\/4\)/);

    const down = fakeDeps(new FakeApi(), { fetch: async () => Promise.reject(new TypeError('fetch failed')) });
    expect(await runCli(['--api', BASE, 'sweep', 'watch', SWEEP_ID], down)).toBe(1);
    expect(down.stderr.text).toContain('error: cannot reach the API at http://api.test:3000 (is it running? set --api or LORA_API_URL)');
  });

  it('sweep submit --watch continues into watch', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-cli-'));
    fs.writeFileSync(path.join(dir, 's.yaml'), 'baseModel: m\ndataset: d\nvariants: [lora]\n');
    const api = scriptedApi('succeeded').on('POST', '/sweeps', {
      status: 201,
      json: summaryOf(sweep([trial(TRIAL_A, 0, 4), trial(TRIAL_B, 1, 8)])),
    });
    const deps = fakeDeps(api, { cwd: dir });
    expect(await runCli(['--api', BASE, 'sweep', 'submit', 's.yaml', '--watch'], deps)).toBe(0);
    expect(deps.stdout.text).toContain(`submitted sweep ${SWEEP_ID}`);
    expect(deps.stdout.text).toContain(`best trial: ${TRIAL_B}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('watch helpers', () => {
  const t = (over: Record<string, unknown>) => trial(over.id as string, 0, 4, over) as unknown as TrialView;
  it('best trial: final eval loss, else the latest eval of a running trial; failed trials never', () => {
    const trials = [
      t({ id: 'a', status: 'succeeded', finalEvalLoss: 1.9 }),
      t({ id: 'b', status: 'running' }),
      t({ id: 'c', status: 'failed', finalEvalLoss: 1.0 }),
    ];
    const progress = new Map([['b', { step: 3, steps: 6, evalLoss: 1.7, trainAfter: 3, evalAfter: 3 }]]);
    expect(bestTrial(trials, progress)).toMatchObject({ trial: { id: 'b' }, loss: 1.7, final: false });
    expect(bestTrial(trials, new Map())).toMatchObject({ trial: { id: 'a' }, loss: 1.9, final: true });
  });
  it('outcome follows the API, or the same rule while it lags', () => {
    const s = (statuses: string[], status = 'running') =>
      ({ status, trials: statuses.map((st, i) => t({ id: String(i), status: st })) }) as unknown as SweepView;
    expect(outcome(s(['succeeded', 'failed']))).toBe('succeeded');
    expect(outcome(s(['cancelled', 'cancelled']))).toBe('cancelled');
    expect(outcome(s(['cancelled', 'failed']))).toBe('failed');
    expect(outcome(s(['succeeded'], 'cancelled'))).toBe('cancelled');
  });
});

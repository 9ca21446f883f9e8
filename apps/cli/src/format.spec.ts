import { summaryLines } from './commands/actions';
import { pickCheckpoint, zipFiles } from './commands/adapter';
import { leaderboardEntries } from './commands/sweep';
import { cliConfig } from './config';
import { fieldErrorLines, fmtLr, leaderboard, rankTrials, table, trialsTable } from './format';
import { parseSpecText } from './spec-file';
import { trial, TRIAL_A, TRIAL_B } from './testing/fake-api';
import type { CheckpointView, TrialView } from './types';

describe('formatting', () => {
  it('aligns table columns (right-aligned numbers)', () => {
    expect(
      table(
        ['a', 'n'],
        [
          ['xy', '1'],
          ['z', '100'],
        ],
        [1],
      ),
    ).toBe('a     n\nxy    1\nz   100');
  });
  it('formats learning rates compactly', () => {
    expect(fmtLr(3e-3)).toBe('0.003');
    expect(fmtLr(0.00012345)).toBe('0.000123');
  });
  it('renders trials with eval loss before → after and tokens/s', () => {
    const t = trial(TRIAL_A, 0, 4, {
      status: 'succeeded',
      trainableParams: 22528,
      baselineEvalLoss: 2.011,
      finalEvalLoss: 1.846,
      tokensPerSec: 2512.4,
    });
    const out = trialsTable([t as unknown as TrialView]);
    expect(out.split('\n')[0]).toMatch(/^#\s+variant\s+r\s+lr\s+status\s+trainable\s+eval loss before → after\s+tokens\/s\s+trial id$/);
    expect(out).toContain('2.0110 → 1.8460');
    expect(out).toContain('22,528');
    expect(out).toContain('2,512');
    expect(out).toContain(TRIAL_A);
  });
  it('ranks trials by final eval loss and leaves unscored ones out', () => {
    const ts = [
      trial(TRIAL_A, 0, 4, { finalEvalLoss: 1.9 }),
      trial(TRIAL_B, 1, 8, { finalEvalLoss: 1.8 }),
      trial('c', 2, 16, { status: 'running' }),
    ] as unknown as TrialView[];
    expect(rankTrials(ts).map((t) => t.index)).toEqual([1, 0]);
    expect(leaderboard(rankTrials(ts)).split('\n')[1]).toMatch(/^\s*1\s+1\s+lora\s+8/);
  });
  it('reads leaderboard answers as lists, { items } or { trial } entries', () => {
    expect(leaderboardEntries([{ rank: 1, id: 'x' }])[0]).toMatchObject({ id: 'x', rank: 1 });
    expect(leaderboardEntries({ items: [{ id: 'y' }] })[0]).toMatchObject({ id: 'y' });
    expect(leaderboardEntries([{ rank: 1, trial: { id: 'z' } }])[0]).toMatchObject({ id: 'z', rank: 1 });
  });
  it('prints one field error per line, with the source line when the file is known', () => {
    const spec = parseSpecText('s.yaml', 'baseModel: m\nsearchSpace:\n  r: [4, 0]\n');
    const lines = fieldErrorLines(
      [
        { field: 'searchSpace.r.1', message: 'rank must be > 0' },
        { field: 'dataset', message: 'is required' },
      ],
      's.yaml',
      spec.locate,
    );
    expect(lines).toEqual([
      'searchSpace.r.1: rank must be > 0',
      '  --> s.yaml:3:10',
      '  3 |   r: [4, 0]',
      '    |          ^',
      'dataset: is required',
    ]);
    expect(fieldErrorLines([{ field: 'a.b', message: 'x' }])).toEqual(['a.b: x']);
  });
  it('summarizes action answers', () => {
    expect(summaryLines({ cancelled: ['a', 'b'] })).toEqual(['cancelled 2 trials:', '  a', '  b']);
    expect(summaryLines({ requeued: [] })).toEqual(['requeued 0 trials']);
  });
});

describe('adapter helpers', () => {
  const cp = (step: number, isFinal = false) => ({ id: `c${step}`, step, isFinal, sha256: 'x', sizeBytes: 1 }) as CheckpointView;
  it('picks the final checkpoint, or the one at --step', () => {
    expect(pickCheckpoint('t', [cp(12), cp(24, true)]).id).toBe('c24');
    expect(pickCheckpoint('t', [cp(12), cp(24, true)], 12).id).toBe('c12');
    expect(() => pickCheckpoint('t', [cp(12), cp(24, true)], 13)).toThrow(
      'trial t has no checkpoint at step 13; checkpoints at steps: 12, 24',
    );
    expect(() => pickCheckpoint('t', [cp(12)])).toThrow(/no final checkpoint yet.*--step/);
    expect(() => pickCheckpoint('t', [])).toThrow('trial t has no checkpoints yet');
  });
  it('strips the zip top folder and refuses escaping paths', () => {
    const b = new Uint8Array([1]);
    expect(zipFiles({ 'trial-1/': new Uint8Array(), 'trial-1/a.json': b, 'trial-1/b.st': b }).map((f) => f.name)).toEqual([
      'a.json',
      'b.st',
    ]);
    expect(zipFiles({ 'a.json': b, 'x/b.st': b }).map((f) => f.name)).toEqual(['a.json', 'x/b.st']);
    expect(() => zipFiles({ 'x/../../etc/passwd': b })).toThrow(/unsafe path/);
    expect(() => zipFiles({ '/etc/passwd': b, 'y/a': b })).toThrow(/unsafe path/);
  });
});

describe('cliConfig', () => {
  it('reads LORA_API_URL, else the default', () => {
    expect(cliConfig({ LORA_API_URL: 'http://h:1' })).toEqual({ apiUrl: 'http://h:1', apiUrlSource: 'env' });
    expect(cliConfig({})).toEqual({ apiUrl: 'http://127.0.0.1:3000', apiUrlSource: 'default' });
  });
});

import { ConflictException, ServiceUnavailableException } from '@nestjs/common';
import { SweepSpecSchema } from '@lora/contracts';
import type { CatalogRepository, SweepRepository } from '@lora/db';
import { ValidationFailed } from '../common/zod-validation.pipe';
import type { TrainQueueService } from '@lora/queue';
import { SweepsService } from './sweeps.service';

/** A mock that throws on any method the test did not stub: surprises fail loudly. */
function strict<T extends object>(impl: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(impl, {
    get(target, prop) {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if (prop === 'then') return undefined;
      throw new Error(`unexpected call: ${String(prop)}`);
    },
  }) as T;
}

const model = { id: 'm1', name: 'sotu-gpt2-small', config: { n_layer: 2, n_positions: 128 } };
const dataset = { id: 'd1', name: 'moby-dick' };
const spec = (extra: object = {}) =>
  SweepSpecSchema.parse({ baseModel: 'sotu-gpt2-small', dataset: 'moby-dick', variants: ['lora'], searchSpace: { r: [4, 8] }, ...extra });

function setup(over: { enqueue?: jest.Mock; existing?: unknown } = {}) {
  const created = { sweep: { id: 's1' }, trials: [{ id: 't1' }, { id: 't2' }] };
  const sweeps = {
    createWithTrials: jest.fn().mockResolvedValue(created),
    findByIdempotencyKey: jest.fn().mockResolvedValue(over.existing ?? null),
    delete: jest.fn().mockResolvedValue({}),
    findSummary: jest.fn(async (id: string) => (id === 's1' ? { id, metric: 'eval_loss', metricMode: 'min' } : null)),
    progress: jest.fn().mockResolvedValue({ total: 2, done: 0, byStatus: { queued: 2 } }),
    best: jest.fn().mockResolvedValue(null),
  };
  const catalog = {
    findBaseModelByName: jest.fn(async (n: string) => (n === model.name ? model : null)),
    findDatasetByName: jest.fn(async (n: string) => (n === dataset.name ? dataset : null)),
    listBaseModels: jest.fn().mockResolvedValue([model]),
    listDatasets: jest.fn().mockResolvedValue([dataset]),
  };
  const queue = {
    enqueueTrials: over.enqueue ?? jest.fn().mockResolvedValue(undefined),
    removeTrials: jest.fn().mockResolvedValue(undefined),
  };
  const service = new SweepsService(strict<SweepRepository>(sweeps), strict<CatalogRepository>(catalog), strict<TrainQueueService>(queue));
  return { service, sweeps, catalog, queue };
}

describe('SweepsService.submit', () => {
  it('stores the grid and enqueues one job per trial', async () => {
    const { service, sweeps, queue } = setup();
    const r = await service.submit(spec());
    expect(r.created).toBe(true);
    expect(r.sweep.progress).toEqual({ total: 2, done: 0, byStatus: { queued: 2 } });
    expect(sweeps.createWithTrials.mock.calls[0][0].trials.map((t: { hyperparams: { r: number } }) => t.hyperparams.r)).toEqual([4, 8]);
    expect(queue.enqueueTrials).toHaveBeenCalledWith('s1', ['t1', 't2'], undefined);
  });

  it('holds LoRA-drop runs for their probe: probes go out as flows, the rest as plain jobs', async () => {
    const { service, sweeps, queue } = setup();
    (queue as Record<string, unknown>).enqueueProbeFlows = jest.fn().mockResolvedValue(undefined);
    sweeps.createWithTrials.mockImplementation(async (input: { trials: Array<{ index: number; kind?: string }> }) => ({
      sweep: { id: 's1' },
      trials: input.trials.map((t) => ({ id: `t${t.index}`, index: t.index, kind: t.kind ?? 'train' })),
    }));
    await service.submit(spec({ variants: ['lora', 'loradrop'], searchSpace: { r: [4] } }));
    const trials = sweeps.createWithTrials.mock.calls[0][0].trials;
    expect(trials.map((t: { index: number; variant: string; kind?: string }) => [t.index, t.variant, t.kind ?? 'train'])).toEqual([
      [0, 'lora', 'train'],
      [1, 'loradrop', 'train'],
      [2, 'lora', 'probe'],
    ]);
    expect(queue.enqueueTrials).toHaveBeenCalledWith('s1', ['t0'], undefined);
    expect((queue as Record<string, jest.Mock>).enqueueProbeFlows).toHaveBeenCalledWith(
      's1',
      [{ probeTrialId: 't2', trainTrialIds: ['t1'] }],
      undefined,
    );
  });

  it('names every catalog problem at once and writes nothing', async () => {
    const { service, sweeps, queue } = setup();
    const err = await service.submit(spec({ dataset: 'nope', searchSpace: { targetModules: [['q_proj']] } })).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationFailed);
    const fields = (err.getResponse() as { errors: Array<{ field: string }> }).errors.map((e) => e.field);
    expect(fields).toEqual(['dataset', 'searchSpace.targetModules.0.0']);
    expect(sweeps.createWithTrials).not.toHaveBeenCalled();
    expect(queue.enqueueTrials).not.toHaveBeenCalled();
  });

  it('refuses a grid over budget, naming budget.maxTrials', async () => {
    const { service } = setup();
    const err = await service.submit(spec({ searchSpace: { r: [1, 2, 3] }, budget: { maxTrials: 2 } })).catch((e) => e);
    expect((err.getResponse() as { errors: Array<{ field: string }> }).errors[0].field).toBe('budget.maxTrials');
  });

  it('rolls the sweep back when Redis refuses the jobs', async () => {
    const { service, sweeps, queue } = setup({ enqueue: jest.fn().mockRejectedValue(new Error('ECONNREFUSED')) });
    await expect(service.submit(spec())).rejects.toBeInstanceOf(ServiceUnavailableException);
    expect(queue.removeTrials).toHaveBeenCalledWith(['t1', 't2']);
    expect(sweeps.delete).toHaveBeenCalledWith('s1');
  });

  it('replays an idempotent submission and refuses another body under the same key', async () => {
    const s = spec();
    const { service, sweeps } = setup({ existing: { id: 's1', spec: JSON.parse(JSON.stringify(s)) } });
    const r = await service.submit(s, 'k1');
    expect(r.created).toBe(false);
    expect(sweeps.createWithTrials).not.toHaveBeenCalled();
    await expect(service.submit(spec({ name: 'other' }), 'k1')).rejects.toBeInstanceOf(ConflictException);
  });
});

describe('SweepsService.get', () => {
  it('returns the summary with progress and the best trial by the sweep metric, no trials; 404s an unknown sweep', async () => {
    const { service, sweeps } = setup();
    const best = { id: 't2', tokensPerSec: 900 };
    sweeps.findSummary.mockResolvedValueOnce({ id: 's1', metric: 'tokens_per_sec', metricMode: 'max' });
    sweeps.best.mockResolvedValueOnce(best);
    const r = await service.get('s1');
    expect(r).toEqual({
      id: 's1',
      metric: 'tokens_per_sec',
      metricMode: 'max',
      progress: { total: 2, done: 0, byStatus: { queued: 2 } },
      best,
    });
    expect(r).not.toHaveProperty('trials');
    expect(sweeps.best).toHaveBeenCalledWith('s1', 'tokens_per_sec', 'max');
    await expect(service.get('nope')).rejects.toThrow('sweep nope not found');
  });
});

describe('SweepsService.trials', () => {
  it('returns a page with the total, and 404s an unknown sweep', async () => {
    const { service, sweeps } = setup();
    const page = [{ id: 't2', index: 1 }];
    Object.assign(sweeps, {
      findStatus: jest.fn(async (id: string) => (id === 's1' ? { id, status: 'queued', finishedAt: null } : null)),
      trialsPage: jest.fn().mockResolvedValue([page, 2]),
    });
    await expect(service.trials('s1', 1, 1)).resolves.toEqual({ total: 2, items: page });
    expect((sweeps as unknown as { trialsPage: jest.Mock }).trialsPage).toHaveBeenCalledWith('s1', 1, 1);
    await expect(service.trials('nope', 1, 0)).rejects.toThrow('sweep nope not found');
  });
});

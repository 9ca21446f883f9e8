import { isConnectionError, withDbRetry } from './db-retry';

describe('withDbRetry', () => {
  it('tells a lost connection from other database errors', () => {
    expect(isConnectionError(Object.assign(new Error("Can't reach database server at 127.0.0.1:5432"), { code: 'P1001' }))).toBe(true);
    expect(isConnectionError(new Error('x', { cause: Object.assign(new Error('boom'), { code: 'ECONNREFUSED' }) }))).toBe(true);
    expect(isConnectionError(new Error('terminating connection due to administrator command'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }))).toBe(false);
    expect(isConnectionError(new Error('null value in column "x"'))).toBe(false);
  });

  it('retries a lost connection with growing waits until it answers', async () => {
    const waits: number[] = [];
    let calls = 0;
    const r = await withDbRetry(
      async () => {
        if (++calls < 4) throw Object.assign(new Error('Connection terminated unexpectedly'), {});
        return 'ok';
      },
      { sleep: async (ms) => void waits.push(ms) },
    );
    expect(r).toBe('ok');
    expect(calls).toBe(4);
    expect(waits).toEqual([200, 400, 800]);
  });

  it('fails at once on other errors, and after maxMs on a connection that stays lost', async () => {
    let calls = 0;
    await expect(
      withDbRetry(async () => {
        calls++;
        throw new Error('Unique constraint failed');
      }),
    ).rejects.toThrow('Unique');
    expect(calls).toBe(1);
    await expect(
      withDbRetry(
        async () => {
          throw new Error("Can't reach database server");
        },
        { maxMs: 30, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 10))) },
      ),
    ).rejects.toThrow(/reach/);
  });
});

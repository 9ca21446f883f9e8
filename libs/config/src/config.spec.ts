import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.api.port).toBe(3000);
    expect(c.db.databaseSchema).toBe('public');
    expect(c.redis.prefix).toBe('lora');
    expect(c.worker.slots).toBe(1);
    expect(c.worker.wasmThreads).toBe('auto');
  });
  it('reads WORKER_WASM_THREADS as auto or a count from 1 to 8', () => {
    expect(loadConfig({ WORKER_WASM_THREADS: '2' }).worker.wasmThreads).toBe(2);
    expect(loadConfig({ WORKER_WASM_THREADS: 'auto' }).worker.wasmThreads).toBe('auto');
    expect(() => loadConfig({ WORKER_WASM_THREADS: '0' })).toThrow(/WORKER_WASM_THREADS/);
    expect(() => loadConfig({ WORKER_WASM_THREADS: 'many' })).toThrow(/WORKER_WASM_THREADS/);
  });
  it('names every bad variable', () => {
    expect(() => loadConfig({ API_PORT: 'abc', DATABASE_SCHEMA: 'Bad-Name', WORKER_BACKEND: 'tpu' })).toThrow(ConfigError);
    try {
      loadConfig({ API_PORT: 'abc', DATABASE_SCHEMA: 'Bad-Name', WORKER_BACKEND: 'tpu' });
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain('API_PORT');
      expect(msg).toContain('DATABASE_SCHEMA');
      expect(msg).toContain('WORKER_BACKEND');
    }
  });
  it('allows the noop trainer (benchmarks) except in production', () => {
    expect(loadConfig({}).worker.trainer).toBe('tfjs');
    expect(loadConfig({ WORKER_TRAINER: 'noop', NODE_ENV: 'test' }).worker.trainer).toBe('noop');
    expect(() => loadConfig({ WORKER_TRAINER: 'noop', NODE_ENV: 'production' })).toThrow(/WORKER_TRAINER: noop/);
  });
});

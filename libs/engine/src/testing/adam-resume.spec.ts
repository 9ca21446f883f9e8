import { Adam } from '../adam';
import { initBackend } from '../backend';
import { adamResumeAcrossBackends } from './adam-resume';

describe('Adam state across backends (the device parity script runs the same on webgpu)', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it('3 steps on wasm, resumed on cpu for 3 more, lands where 6 cpu steps do', async () => {
    const r = await adamResumeAcrossBackends('wasm');
    expect(r.device).toMatch(/wasm/);
    expect(r.maxDiff).toBeLessThan(1e-5);
  });

  it('notices a state that did not come back (setState dropped)', async () => {
    const spy = jest.spyOn(Adam.prototype, 'setState').mockImplementation(() => undefined);
    try {
      expect((await adamResumeAcrossBackends('wasm')).maxDiff).toBeGreaterThan(1e-3);
    } finally {
      spy.mockRestore();
    }
  });
});

// Every variant trains the same 8 steps on `wasm` (the CPU backend workers run) and on `cpu` (plain
// JS, the reference) from the same weights and data: per-step losses and the final adapter weights
// agree within float tolerance. The same check runs against webgpu on a GPU host:
// `node dist/scripts/backend-parity.js --backend webgpu`.
import { initBackend } from '@lora/engine';
import { compareBackends, LOSS_RTOL, PARITY_CONFIG, PARITY_STEPS, PARITY_VARIANTS, parityOk, weightTolerance } from './testing/parity';

// Smaller than the webgpu check's (whose size makes its tiled matmul run): wasm has no such path.
const SHAPE = { model: { ...PARITY_CONFIG, nEmbd: 64 }, batch: 4 };

jest.setTimeout(120_000);

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

afterAll(async () => {
  await initBackend('cpu');
});

describe.each(PARITY_VARIANTS)('%s on wasm vs cpu', (name, variant, config, lrRatio = 1) => {
  it(`matches loss at each of ${PARITY_STEPS} steps and the trained adapter weights`, async () => {
    const r = await compareBackends(name, variant, config, 'cpu', 'wasm', SHAPE);
    expect(r.maxWeight).toBeGreaterThan(0); // the adapters moved
    expect(r.maxLossRelDiff).toBeLessThanOrEqual(LOSS_RTOL);
    expect(r.maxWeightDiff).toBeLessThanOrEqual(weightTolerance(r.maxWeight, lrRatio));
    expect(parityOk(r, lrRatio)).toBe(true);
  });
});

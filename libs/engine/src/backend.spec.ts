// Backend choice: `auto` walks tfjs-node-gpu → webgpu → tfjs-node → wasm → cpu and records why it
// passed each one over; an explicit choice that cannot run fails with the reason. These machines
// have no GPU adapter (and no tfjs-node), so auto lands on wasm here; the GPU path is measured on
// the accelerator machine (bench/gpu-step.bench.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeTfjsNode } from './backend';
import { dawnNodePath, WebgpuUnavailableError } from './webgpu';

describe('initBackend', () => {
  it('auto picks the best available backend and says why it skipped the better ones', async () => {
    const info = await initBackend('auto');
    expect(tf.getBackend()).toBe(info.backend);
    if (info.backend === 'webgpu') {
      // An accelerator machine running this spec: nothing was skipped but tfjs-node-gpu.
      expect(info.skipped).toEqual([expect.stringMatching(/^tensorflow \(GPU\)/)]);
      return;
    }
    expect(info.backend).toBe('wasm');
    expect(info.skipped).toEqual([
      expect.stringMatching(/^tensorflow \(GPU\): @tensorflow\/tfjs-node-gpu is not installed/),
      expect.stringMatching(/^webgpu: /),
      expect.stringMatching(/^tensorflow \(CPU\): /),
    ]);
    expect(info.device).toMatch(/^CPU \(wasm/);
  });

  it('an explicit webgpu without an adapter fails naming the reason, and leaves the current backend alone', async () => {
    await initBackend('cpu');
    const err = await initBackend('webgpu').then(
      () => null,
      (e: Error) => e,
    );
    if (err === null) return; // an accelerator machine: webgpu initialised
    expect(err.message).toMatch(/^Backend 'webgpu' is not available here: .+\. Choose auto, wasm or cpu\.$/);
    expect(err.cause).toBeInstanceOf(WebgpuUnavailableError);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('an explicit tensorflow backend without tfjs-node fails naming both packages', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu .*@tensorflow\/tfjs-node/);
  });

  it('takes tfjs-node only with its libtensorflow binding (an offline install has none)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-node-'));
    try {
      const resolve = (id: string) => {
        if (id !== '@tensorflow/tfjs-node-gpu/package.json') throw Object.assign(new Error('nope'), { code: 'MODULE_NOT_FOUND' });
        return path.join(dir, 'package.json');
      };
      fs.writeFileSync(path.join(dir, 'package.json'), '{}');
      expect(probeTfjsNode('@tensorflow/tfjs-node', resolve)).toEqual({ ok: false, reason: '@tensorflow/tfjs-node is not installed' });
      const missing = probeTfjsNode('@tensorflow/tfjs-node-gpu', resolve);
      expect(missing.ok).toBe(false);
      expect(!missing.ok && missing.reason).toMatch(/installed without its libtensorflow binding .*npm rebuild @tensorflow\/tfjs-node-gpu/);
      fs.mkdirSync(path.join(dir, 'lib', 'napi-v8'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
      expect(probeTfjsNode('@tensorflow/tfjs-node-gpu', resolve)).toEqual({ ok: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend('tpu' as never)).rejects.toThrow(/Unknown backend 'tpu'/);
  });

  it('finds dawn.node in the installed webgpu package, or where WEBGPU_DAWN_NODE points', () => {
    expect(dawnNodePath({})).toMatch(/webgpu[/\\]dist[/\\][a-z0-9]+-[a-z0-9]+[/\\]dawn\.node$/);
    expect(() => dawnNodePath({ WEBGPU_DAWN_NODE: '/nonexistent/dawn.node' })).toThrow(
      new WebgpuUnavailableError('WEBGPU_DAWN_NODE=/nonexistent/dawn.node does not exist'),
    );
  });
});

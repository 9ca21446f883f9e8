// The on-disk cache of assembled modules: written once, read back identical, a corrupt file replaced.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assembleWat } from './wasm-assemble';

const WAT = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))';

describe('assembleWat', () => {
  let dir: string;
  const saved = process.env.LORA_WASM_CACHE_DIR;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-cache-'));
    process.env.LORA_WASM_CACHE_DIR = dir;
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.LORA_WASM_CACHE_DIR;
    else process.env.LORA_WASM_CACHE_DIR = saved;
  });

  it('assembles a module that runs, caches it, and reads the cache back', async () => {
    const first = await assembleWat('t.wat', WAT, {});
    const { instance } = await WebAssembly.instantiate(first);
    expect((instance.exports.add as (a: number, b: number) => number)(2, 40)).toBe(42);
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(Buffer.from(fs.readFileSync(path.join(dir, files[0]))).equals(Buffer.from(first))).toBe(true);
    expect(Buffer.from(await assembleWat('t.wat', WAT, {})).equals(Buffer.from(first))).toBe(true);
    // Another text is another file.
    await assembleWat('t.wat', WAT.replace('i32.add', 'i32.sub'), {});
    expect(fs.readdirSync(dir)).toHaveLength(2);
  });

  it('replaces a corrupt cache file instead of returning it', async () => {
    const good = await assembleWat('t.wat', WAT, {});
    const [file] = fs.readdirSync(dir);
    fs.writeFileSync(path.join(dir, file), 'not wasm');
    const again = await assembleWat('t.wat', WAT, {});
    expect(Buffer.from(again).equals(Buffer.from(good))).toBe(true);
    expect(WebAssembly.validate(fs.readFileSync(path.join(dir, file)))).toBe(true);
  });

  it('ignores a cache folder others can write to', async () => {
    const good = await assembleWat('t.wat', WAT, {});
    const [file] = fs.readdirSync(dir);
    // A valid module of someone else's, planted under our key in a world-writable folder.
    fs.writeFileSync(path.join(dir, file), await assembleWat('o.wat', '(module)', {}));
    fs.chmodSync(dir, 0o777);
    expect(Buffer.from(await assembleWat('t.wat', WAT, {})).equals(Buffer.from(good))).toBe(true);
  });

  it('names the line of a syntax error', async () => {
    await expect(assembleWat('bad.wat', '(module (func (i32.bogus)))', {})).rejects.toThrow(/bad\.wat:1/);
  });
});

// Specs for the safetensors reader/writer: round trips, reference byte layout, half-float
// decoding from hand-built files, and rejection of corrupt headers.
import { parseSafetensors, serializeSafetensors, toFloat32, type SafetensorsTensor } from './safetensors';

function handBuilt(header: string, data: number[], padTo8 = false): Uint8Array {
  let json = header;
  if (padTo8) while (json.length % 8 !== 0) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, v >> 8]);
}

describe('serializeSafetensors', () => {
  it('matches the reference crate layout for a single F32 tensor', () => {
    const bytes = serializeSafetensors({
      'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
    });
    const expectedHeader = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(expectedHeader.length).toBe(64); // already aligned: no padding
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true))).toBe(64);
    expect(new TextDecoder().decode(bytes.subarray(8, 72))).toBe(expectedHeader);
    expect(Array.from(new Float32Array(bytes.slice(72).buffer))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('pads the header with spaces to 8-byte alignment', () => {
    const bytes = serializeSafetensors({
      attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array(6) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + ' '.repeat(7));
  });

  it('writes the empty file and metadata exactly like the reference crate', () => {
    expect(Array.from(serializeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMeta = serializeSafetensors({}, { framework: 'pt' });
    expect(new TextDecoder().decode(withMeta.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
  });

  it('orders tensors by descending dtype alignment then by name, including integer-like names', () => {
    const bytes = serializeSafetensors({
      b: { dtype: 'F32', shape: [1], data: new Float32Array([2]) },
      '10': { dtype: 'F32', shape: [1], data: new Float32Array([3]) },
      a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      ids: { dtype: 'I64', shape: [2], data: new BigInt64Array([7n, -1n]) },
      mask: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 0, 1]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const order = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    expect(order).toEqual(['ids', '10', 'a', 'b', 'mask']);
    expect([...parseSafetensors(bytes).tensors.keys()]).toEqual(['ids', '10', 'a', 'b', 'mask']);
  });

  it('round trips every dtype, shapes, zero-size tensors and metadata', () => {
    const input: Record<string, SafetensorsTensor> = {
      'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([0.5, -1, 2.25, 3e-8, 1e30, -0]) },
      f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -Math.E]) },
      i32: { dtype: 'I32', shape: [3], data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) },
      i64: { dtype: 'I64', shape: [1, 2], data: new BigInt64Array([-(2n ** 63n), 2n ** 62n]) },
      f16: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
      u8: { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 2, 254, 255]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    };
    const meta = { format: 'pt', note: 'üñí "quoted" \n' };
    const parsed = parseSafetensors(serializeSafetensors(input, meta));
    expect(parsed.metadata).toEqual(meta);
    expect(parsed.tensors.size).toBe(Object.keys(input).length);
    for (const [name, t] of Object.entries(input)) {
      const got = parsed.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(Array.from(got.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it('accepts a Map and rejects data that does not match dtype or shape', () => {
    expect(() =>
      serializeSafetensors(new Map([['x', { dtype: 'F32', shape: [2], data: new Float32Array(3) } as SafetensorsTensor]])),
    ).toThrow(/"x" has shape \[2\] \(2 elements\) but 3 data values/);
    expect(() =>
      serializeSafetensors({ x: { dtype: 'I64', shape: [1], data: new Int32Array(1) } as unknown as SafetensorsTensor }),
    ).toThrow(/"x" is I64 so its data must be a BigInt64Array/);
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } })).toThrow(/reserved/);
  });
});

describe('parseSafetensors', () => {
  it('decodes hand-built F16 and BF16 tensors (unaligned data, copied) to known floats', () => {
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x7c00, 0xfc00, 0x7e00];
    const bf16 = [0x3f80, 0xc040, 0x4049, 0x0000];
    // Unpadded odd-length header, so the data starts at an odd byte and needs copying.
    const header =
      '{"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[16,24]},"a":{"dtype":"F16","shape":[8],"data_offsets":[0,16]},"__metadata__":{"k":"v"} }';
    expect((8 + header.length) % 2).toBe(1);
    const parsed = parseSafetensors(handBuilt(header, [...u16le(f16), ...u16le(bf16)]));
    expect(parsed.metadata).toEqual({ k: 'v' });
    expect([...parsed.tensors.keys()]).toEqual(['a', 'b']);

    const a = toFloat32(parsed.tensors.get('a')!);
    expect(Array.from(a.slice(0, 5))).toEqual([1, -2, 65504, 2 ** -24, Math.fround(0.333251953125)]);
    expect(a[5]).toBe(Infinity);
    expect(a[6]).toBe(-Infinity);
    expect(a[7]).toBeNaN();

    const b = parsed.tensors.get('b')!;
    expect(b.shape).toEqual([2, 2]);
    expect(Array.from(toFloat32(b))).toEqual([1, -3, 3.140625, 0]);
  });

  it('returns zero-copy views for aligned data and handles subarray inputs', () => {
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) } });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const sub = shifted.subarray(3); // byteOffset 3: views are impossible, must copy
    expect(Array.from(toFloat32(parseSafetensors(sub).tensors.get('w')!))).toEqual([1.5, -2]);
    const direct = parseSafetensors(bytes).tensors.get('w')!;
    expect(direct.data.buffer).toBe(bytes.buffer);
  });

  it('converts F64 and integer tensors with toFloat32', () => {
    const parsed = parseSafetensors(
      serializeSafetensors({
        d: { dtype: 'F64', shape: [2], data: new Float64Array([0.1, -7]) },
        l: { dtype: 'I64', shape: [2], data: new BigInt64Array([3n, -4n]) },
      }),
    );
    expect(Array.from(toFloat32(parsed.tensors.get('d')!))).toEqual([Math.fround(0.1), -7]);
    expect(Array.from(toFloat32(parsed.tensors.get('l')!))).toEqual([3, -4]);
  });

  describe('rejects corrupt files with a message', () => {
    const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const data = [0, 0, 128, 63, 0, 0, 0, 64];

    it.each([
      ['too short', new Uint8Array(4), /too small/],
      [
        'header length beyond file',
        (() => {
          const b = handBuilt(ok, data);
          b[0] = 200;
          return b;
        })(),
        /runs past the end/,
      ],
      [
        'huge header length',
        (() => {
          const b = handBuilt(ok, data);
          b[5] = 1;
          return b;
        })(),
        /exceeds the 100000000-byte limit/,
      ],
      ['not JSON', handBuilt('{"a":', []), /not valid JSON/],
      ['not starting with {', handBuilt('[1,2]   ', []), /must start with "\{"/],
      ['unknown dtype', handBuilt(ok.replace('F32', 'F31'), data), /tensor "a" has unsupported dtype "F31"/],
      ['bad shape', handBuilt(ok.replace('[2]', '[-2]'), data), /tensor "a" has invalid shape/],
      ['size mismatch', handBuilt(ok.replace('[2]', '[3]'), data), /tensor "a" \(F32 \[3\]\) needs 12 bytes but data_offsets span 8/],
      [
        'gap in offsets',
        handBuilt(ok.replace('[0,8]', '[4,12]'), [...data, 0, 0, 0, 0]),
        /tensor "a" has data_offsets \[4, 12\] but the previous tensor ends at 0/,
      ],
      ['truncated data', handBuilt(ok, data.slice(0, 6)), /tensor "a" ends at data byte 8 but the file only has 6/],
      ['trailing bytes', handBuilt(ok, [...data, 1]), /cover 8 data bytes but the file has 9/],
      ['non-string metadata', handBuilt('{"__metadata__":{"n":1}}', []), /"__metadata__"."n" must be a string/],
      [
        'overlapping tensors',
        handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', data),
        /tensor "b" has data_offsets \[4, 8\] but the previous tensor ends at 8/,
      ],
    ])('%s', (_label, bytes, message) => {
      expect(() => parseSafetensors(bytes)).toThrow(message);
    });
  });
});

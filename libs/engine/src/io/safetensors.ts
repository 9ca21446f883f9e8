// Reads and writes the safetensors container format (Hugging Face) byte-for-byte like the
// reference Rust crate: 8-byte LE header length, compact JSON header, packed tensor data.

/** Every dtype the reference crate knows, in its enum order (ascending alignment). */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/**
 * The typed array holding each dtype. Half and 8-bit floats have no JS array type, so they keep
 * their raw bit patterns (use `toFloat32` to decode them); BOOL is one byte per element (0 or 1).
 */
export interface SafetensorsArrayTypes {
  BOOL: Uint8Array;
  U8: Uint8Array;
  I8: Int8Array;
  F8_E5M2: Uint8Array;
  F8_E4M3: Uint8Array;
  I16: Int16Array;
  U16: Uint16Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I32: Int32Array;
  U32: Uint32Array;
  F32: Float32Array;
  F64: Float64Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
}

/** A tensor as stored in a safetensors file; `dtype` narrows `data`. */
export type SafetensorsTensor = {
  [D in SafetensorsDtype]: { dtype: D; shape: number[]; data: SafetensorsArrayTypes[D] };
}[SafetensorsDtype];

export interface ParsedSafetensors {
  /** The free-form `__metadata__` string map ({} when the file has none). */
  metadata: Record<string, string>;
  /** Tensors in file (offset) order. */
  tensors: Map<string, SafetensorsTensor>;
}

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView & { length: number };
  new (length: number): ArrayBufferView & { length: number };
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

const ARRAY_CTORS: Record<SafetensorsDtype, TypedArrayCtor> = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

/** Same limit as the Rust crate, so we reject exactly the files it rejects. */
const MAX_HEADER_SIZE = 100_000_000;
const METADATA_KEY = '__metadata__';
const DTYPE_RANK = new Map<string, number>(SAFETENSORS_DTYPES.map((d, i) => [d, i]));
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function dtypeByteSize(dtype: SafetensorsDtype): number {
  return ARRAY_CTORS[dtype].BYTES_PER_ELEMENT;
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && DTYPE_RANK.has(value);
}

function elementCount(shape: readonly number[], what: string): number {
  let n = 1;
  for (const dim of shape) {
    n *= dim;
    if (!Number.isSafeInteger(n)) {
      throw new Error(`safetensors: ${what} has shape [${shape.join(', ')}] whose element count overflows; the header is corrupt`);
    }
  }
  return n;
}

/**
 * Copies `byteLength` bytes into a fresh typed array. Used when the data is not aligned for a
 * zero-copy view (typed-array views require byteOffset % BYTES_PER_ELEMENT === 0) or when the
 * host is big-endian and the bytes must be swapped.
 */
function copyToTyped(ctor: TypedArrayCtor, src: Uint8Array, length: number): ArrayBufferView & { length: number } {
  const out = new ctor(length);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  outBytes.set(src);
  if (!IS_LITTLE_ENDIAN) swapBytes(outBytes, ctor.BYTES_PER_ELEMENT);
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function parseTensorInfo(name: string, raw: unknown): { dtype: SafetensorsDtype; shape: number[]; start: number; end: number } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(`safetensors: header entry "${name}" must be an object with dtype, shape and data_offsets`);
  }
  const info = raw as Record<string, unknown>;
  if (!isDtype(info.dtype)) {
    throw new Error(
      `safetensors: tensor "${name}" has unsupported dtype ${JSON.stringify(info.dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`,
    );
  }
  const shape = info.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`safetensors: tensor "${name}" has invalid shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
  }
  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Error(
      `safetensors: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with non-negative integers`,
    );
  }
  return { dtype: info.dtype, shape: shape as number[], start: offsets[0] as number, end: offsets[1] as number };
}

/**
 * Parses a whole safetensors file. Aligned tensors are zero-copy views into `bytes` (so they alias
 * it: copy before mutating if the buffer is shared); unaligned ones are copied.
 */
export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  if (bytes.length < 8) {
    throw new Error(
      `safetensors: file is ${bytes.length} bytes, too small for the 8-byte header length; the file is truncated or not safetensors`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_SIZE)) {
    throw new Error(
      `safetensors: header length ${headerLen64} exceeds the ${MAX_HEADER_SIZE}-byte limit; the file is corrupt or not safetensors`,
    );
  }
  const headerLen = Number(headerLen64);
  if (8 + headerLen > bytes.length) {
    throw new Error(
      `safetensors: header length ${headerLen} runs past the end of the ${bytes.length}-byte file; the file is truncated or corrupt`,
    );
  }
  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new Error('safetensors: header is not valid UTF-8; the file is corrupt or not safetensors');
  }
  if (!headerText.startsWith('{')) {
    throw new Error(
      `safetensors: header must start with "{" but starts with ${JSON.stringify(headerText.slice(0, 16))}; the file is corrupt or not safetensors`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    throw new Error(`safetensors: header is not valid JSON (${(err as Error).message}); the file is corrupt`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error('safetensors: header must be a JSON object mapping tensor names to their info');
  }

  const metadata: Record<string, string> = {};
  const infos: Array<{ name: string; dtype: SafetensorsDtype; shape: number[]; start: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new Error('safetensors: "__metadata__" must be an object of string values');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw new Error(`safetensors: "__metadata__"."${k}" must be a string (got ${typeof v}); the format only allows string metadata`);
        }
        metadata[k] = v;
      }
      continue;
    }
    infos.push({ name, ...parseTensorInfo(name, raw) });
  }

  // Older writers did not order tensors by offset in the header; layout order is what matters.
  infos.sort((a, b) => a.start - b.start || a.end - b.end);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let cursor = 0;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const info of infos) {
    if (info.start !== cursor || info.end < info.start) {
      throw new Error(
        `safetensors: tensor "${info.name}" has data_offsets [${info.start}, ${info.end}] but the previous tensor ends at ${cursor}; offsets must be contiguous and non-overlapping`,
      );
    }
    const count = elementCount(info.shape, `tensor "${info.name}"`);
    const width = dtypeByteSize(info.dtype);
    const expected = count * width;
    if (info.end - info.start !== expected) {
      throw new Error(
        `safetensors: tensor "${info.name}" (${info.dtype} [${info.shape.join(', ')}]) needs ${expected} bytes but data_offsets span ${info.end - info.start}`,
      );
    }
    if (info.end > dataLen) {
      throw new Error(
        `safetensors: tensor "${info.name}" ends at data byte ${info.end} but the file only has ${dataLen} data bytes; the file is truncated`,
      );
    }
    cursor = info.end;
    const ctor = ARRAY_CTORS[info.dtype];
    const absolute = bytes.byteOffset + dataStart + info.start;
    const data =
      IS_LITTLE_ENDIAN && absolute % width === 0
        ? new ctor(bytes.buffer, absolute, count)
        : copyToTyped(ctor, bytes.subarray(dataStart + info.start, dataStart + info.end), count);
    tensors.set(info.name, { dtype: info.dtype, shape: info.shape.slice(), data } as SafetensorsTensor);
  }
  if (cursor !== dataLen) {
    throw new Error(
      `safetensors: tensors cover ${cursor} data bytes but the file has ${dataLen}; the header does not describe the whole buffer (corrupt or trailing bytes)`,
    );
  }
  return { metadata, tensors };
}

// ---- decoding to float32 -------------------------------------------------------------------

const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function bf16BitsToFloat(b: number): number {
  U32_SCRATCH[0] = (b & 0xffff) << 16;
  return F32_SCRATCH[0];
}

function f8e5m2ToFloat(v: number): number {
  // E5M2 is the top byte of an IEEE half.
  return f16BitsToFloat(v << 8);
}

function f8e4m3ToFloat(v: number): number {
  // E4M3FN (the variant torch.float8_e4m3fn stores): bias 7, no infinities, only S.1111.111 is NaN.
  const sign = v & 0x80 ? -1 : 1;
  const exp = (v >> 3) & 0xf;
  const frac = v & 0x7;
  if (exp === 0xf && frac === 0x7) return NaN;
  if (exp === 0) return sign * frac * 2 ** -9;
  return sign * (1 + frac / 8) * 2 ** (exp - 7);
}

/**
 * Decodes any numeric tensor to float32 values. F32 data is returned as-is (no copy); everything
 * else is converted into a fresh array. 64-bit integers beyond 2^24 lose precision, as in any cast.
 */
export function toFloat32(t: SafetensorsTensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data;
    case 'F16':
    case 'BF16':
    case 'F8_E5M2':
    case 'F8_E4M3': {
      const decode =
        t.dtype === 'F16' ? f16BitsToFloat : t.dtype === 'BF16' ? bf16BitsToFloat : t.dtype === 'F8_E5M2' ? f8e5m2ToFloat : f8e4m3ToFloat;
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = decode(t.data[i]);
      return out;
    }
    case 'I64':
    case 'U64': {
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
      return out;
    }
    default:
      return Float32Array.from(t.data);
  }
}

// ---- serialization ---------------------------------------------------------------------------

const utf8 = new TextEncoder();

function compareUtf8(a: string, b: string): number {
  // Rust orders String keys by UTF-8 bytes, which differs from JS UTF-16 order above U+FFFF.
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Serializes tensors into a safetensors file. Layout follows the reference `serialize`: tensors
 * sorted by descending dtype alignment, then by name (so single-dtype files are in name order);
 * header padded with spaces to a multiple of 8; `__metadata__` written first when given.
 */
export function serializeSafetensors(
  tensors: Record<string, SafetensorsTensor> | Map<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) {
      throw new Error('safetensors: "__metadata__" is reserved and cannot be a tensor name; rename the tensor');
    }
    if (!isDtype(t.dtype)) {
      throw new Error(
        `safetensors: tensor "${name}" has unsupported dtype ${JSON.stringify(t.dtype)}; expected one of ${SAFETENSORS_DTYPES.join(', ')}`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`safetensors: tensor "${name}" has invalid shape ${JSON.stringify(t.shape)}; use non-negative integers`);
    }
    const ctor = ARRAY_CTORS[t.dtype];
    if (!(t.data instanceof ctor)) {
      const got = (t.data as object | undefined)?.constructor?.name ?? typeof t.data;
      throw new Error(
        `safetensors: tensor "${name}" is ${t.dtype} so its data must be a ${ctor.name} (got ${got}); convert it first, e.g. ${ctor.name}.from(values)`,
      );
    }
    const count = elementCount(t.shape, `tensor "${name}"`);
    if (t.data.length !== count) {
      throw new Error(
        `safetensors: tensor "${name}" has shape [${t.shape.join(', ')}] (${count} elements) but ${t.data.length} data values`,
      );
    }
  }
  entries.sort(([an, a], [bn, b]) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareUtf8(an, bn));

  // Built by hand: a JS object would move integer-like keys ("0", "12") to the front.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const metaParts: string[] = [];
    for (const key of Object.keys(metadata).sort(compareUtf8)) {
      const value = metadata[key];
      if (typeof value !== 'string') {
        throw new Error(`safetensors: metadata "${key}" must be a string (got ${typeof value}); stringify it (e.g. JSON.stringify) first`);
      }
      metaParts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${metaParts.join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const headerLen = json.length + ((8 - (json.length % 8)) % 8);

  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos);
    if (!IS_LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + src.length), dtypeByteSize(t.dtype));
    pos += src.length;
  }
  return out;
}

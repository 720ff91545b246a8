import { describe, expect, it } from 'vitest';
import { float32ArrayText, MAX_FLOAT32_TEXT_BYTES, writeFloat32 } from '../../../src/embeddings/float32-text.js';

/** Every finite float32 bit pattern is equally likely: all exponents, denormals, both signs. */
function randomFloat32s(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  let s = seed;
  for (let i = 0; i < count; i++) {
    do {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      bits[i] = s ^ (s >>> 13);
    } while (!Number.isFinite(out[i]!));
  }
  return out;
}

const EDGES = Float32Array.of(
  0,
  -0,
  1,
  -1,
  0.5,
  0.1,
  1e-6,
  1e-7,
  9.999999e-7,
  0.999999940395,
  1e8,
  1e9,
  123456789,
  3.4028234663852886e38,
  -3.4028234663852886e38,
  1.4e-45,
  1.1754943508222875e-38,
  10,
  100,
  99999.99,
  0.30000001192092896,
  2 ** -24,
);

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?(e-?\d+)?$/;

describe('float32 text', () => {
  it('parses back (through a double, as JSON parsers and strtof do) to the very same float32', () => {
    const values = new Float32Array([...EDGES, ...randomFloat32s(200_000, 42)]);
    const parsed = JSON.parse(float32ArrayText(values)) as number[];
    expect(parsed).toHaveLength(values.length);
    const mismatches = [...values].filter((v, i) => Math.fround(parsed[i]!) !== v);
    expect(mismatches).toEqual([]);
  });

  it('writes JSON numbers of at most nine significant digits within the promised room', () => {
    const values = new Float32Array([...EDGES, ...randomFloat32s(20_000, 7)]);
    const buf = Buffer.alloc(MAX_FLOAT32_TEXT_BYTES);
    for (const v of values) {
      const text = buf.toString('latin1', 0, writeFloat32(buf, 0, v));
      expect(text).toMatch(JSON_NUMBER);
      expect(text.length).toBeLessThanOrEqual(MAX_FLOAT32_TEXT_BYTES);
      const significant = text.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '');
      expect(significant.length).toBeLessThanOrEqual(9);
    }
  });

  it('prints like JavaScript where the float32 is short: plain from 1e-6 up to 1e9, exponent outside', () => {
    expect(float32ArrayText(Float32Array.of(0, -0, 1, -1, 0.5, -0.25, 1.5, 1024, 1e-6, 1e-7, 123456792, 1e9, 2 ** -24))).toBe(
      '[0,0,1,-1,0.5,-0.25,1.5,1024,9.99999997e-7,1.00000001e-7,123456792,1e9,5.96046448e-8]',
    );
  });

  it('refuses values no float32 holds rather than writing garbage', () => {
    const buf = Buffer.alloc(MAX_FLOAT32_TEXT_BYTES);
    for (const bad of [NaN, Infinity, -Infinity, 1e39]) expect(() => writeFloat32(buf, 0, bad)).toThrow(RangeError);
  });
});

/**
 * Float32 vectors as decimal text, written straight into a byte buffer.
 *
 * `Float32Array#join` widens each value to a double and prints the double's shortest form:
 * ~18 digits that a float32 does not have, at ~0.5 µs per value (V8's shortest-double search
 * often falls back to bignum arithmetic for widened float32s). That cost as much CPU as the
 * model itself for a batch of 128-dimension embeddings. Nine significant digits always identify
 * a float32 exactly, so this writes at most nine, using integer arithmetic only.
 *
 * Why rounding through a double is safe: the scaled value `|x| · 10^(8-e)` carries a relative
 * error of a few 1e-16, so the nine-digit result is off by at most one unit in its last place
 * (≤ 1.5e-8 relative), while two float32s are at least 2^-24 ≈ 6e-8 apart relative to their
 * size: the text still parses back (through a double, as JSON parsers and pgvector's strtof do)
 * to the same float32.
 */

/** Upper bound of bytes `writeFloat32` writes for one value: `-0.00000123456789`. */
export const MAX_FLOAT32_TEXT_BYTES = 17;
const MAX_FLOAT32 = 3.4028234663852886e38;

const DIGITS = 9;
/** Decimal exponents printed without an exponent part, like JavaScript's own number printing. */
const MIN_PLAIN_EXPONENT = -6;
const MAX_PLAIN_EXPONENT = 8;

// 10^k for every k a float32 needs: its decimal exponents -46..39 and the scales -31..54 that
// bring them to nine digits. Each is the correctly rounded double (exact up to 10^22).
const POW10_OFFSET = 46;
const POW10 = Array.from({ length: POW10_OFFSET + 54 + 1 }, (_, i) => Number(`1e${i - POW10_OFFSET}`));
const scale = (k: number) => POW10[k + POW10_OFFSET]!;

const ZERO = 0x30;
const MINUS = 0x2d;
const POINT = 0x2e;
const LOWER_E = 0x65;

/**
 * Writes `x` (a float32 value) at `pos` as a JSON number and returns the position after it.
 * The caller guarantees `MAX_FLOAT32_TEXT_BYTES` of room.
 */
export function writeFloat32(buf: Uint8Array, pos: number, x: number): number {
  if (!(Math.abs(x) <= MAX_FLOAT32)) throw new RangeError(`${x} is not a finite float32`);
  if (x === 0) {
    buf[pos] = ZERO;
    return pos + 1;
  }
  if (x < 0) {
    buf[pos++] = MINUS;
    x = -x;
  }
  // The decimal exponent by comparison: embedding values sit within a few powers of ten of 1,
  // so this takes one or two steps where Math.log10 cost more than all the rest.
  let e = 0;
  if (x < 1) {
    e = -1;
    while (x < scale(e)) e--;
  } else {
    while (x >= scale(e + 1)) e++;
  }
  let y = x * scale(DIGITS - 1 - e);
  // Inexact powers of ten (beyond 1e22) may land e one off; rounding may carry into a tenth digit.
  if (y < 1e8) y = x * scale(DIGITS - 1 - --e);
  else if (y >= 1e9) y = x * scale(DIGITS - 1 - ++e);
  // y < 1e9 < 2^31 from here: int32 arithmetic (`| 0` rounds half up like Math.round, faster).
  let d = (y + 0.5) | 0;
  if (d >= 1e9) {
    d = 1e8;
    e++;
  }
  let n = DIGITS;
  while (d % 10 === 0) {
    d = (d / 10) | 0;
    n--;
  }

  if (e >= 0 && e <= MAX_PLAIN_EXPONENT) {
    if (n > e + 1) return putDigits(buf, pos, d, n, e + 1);
    pos = putDigits(buf, pos, d, n, n);
    for (let i = n; i <= e; i++) buf[pos++] = ZERO;
    return pos;
  }
  if (e < 0 && e >= MIN_PLAIN_EXPONENT) {
    buf[pos++] = ZERO;
    buf[pos++] = POINT;
    for (let i = -1; i > e; i--) buf[pos++] = ZERO;
    return putDigits(buf, pos, d, n, n);
  }
  pos = putDigits(buf, pos, d, n, 1);
  buf[pos++] = LOWER_E;
  if (e < 0) {
    buf[pos++] = MINUS;
    e = -e;
  }
  if (e >= 10) buf[pos++] = ZERO + ((e / 10) | 0);
  buf[pos++] = ZERO + (e % 10);
  return pos;
}

/**
 * Writes the `n` digits of `d` at `pos`, with a point before the digit at index `point` when
 * `point < n`; filled from the right, so no digit buffer is needed.
 */
function putDigits(buf: Uint8Array, pos: number, d: number, n: number, point: number): number {
  const end = pos + n + (point < n ? 1 : 0);
  let at = end - 1;
  for (let k = n - 1; k >= 0; k--) {
    const q = (d / 10) | 0;
    buf[at--] = ZERO + d - q * 10;
    d = q;
    if (k === point) buf[at--] = POINT;
  }
  return end;
}

/** Writes `[v0,v1,…]` at `pos`; needs `vectorTextBytes(v.length)` of room. */
export function writeFloat32Array(buf: Uint8Array, pos: number, v: Float32Array): number {
  buf[pos++] = 0x5b; // [
  for (let i = 0; i < v.length; i++) {
    if (i > 0) buf[pos++] = 0x2c; // ,
    pos = writeFloat32(buf, pos, v[i]!);
  }
  buf[pos++] = 0x5d; // ]
  return pos;
}

/** Room `writeFloat32Array` may need for a vector of `dims` values. */
export const vectorTextBytes = (dims: number) => dims * (MAX_FLOAT32_TEXT_BYTES + 1) + 2;

/** `[v0,v1,…]` as a string: the pgvector literal and the JSON array alike. */
export function float32ArrayText(v: Float32Array): string {
  const buf = Buffer.allocUnsafe(vectorTextBytes(v.length));
  return buf.toString('latin1', 0, writeFloat32Array(buf, 0, v));
}

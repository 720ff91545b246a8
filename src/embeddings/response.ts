import { vectorTextBytes, writeFloat32Array } from './float32-text.js';

export type EncodingFormat = 'float' | 'base64';

export interface EmbeddingList {
  readonly vectors: readonly Float32Array[];
  readonly model: string;
  readonly promptTokens: number;
  readonly format: EncodingFormat;
}

const ITEM_HEAD = '{"object":"embedding","index":';
const ITEM_EMBEDDING = ',"embedding":';
/** The widest item framing: head, a seven-digit index, the embedding key, quotes, `},`. */
const ITEM_FRAMING_BYTES = ITEM_HEAD.length + 7 + ITEM_EMBEDDING.length + 4;

/**
 * OpenAI's embedding list as one buffer, written in place: a batch of 32 × 128 floats is ~55 kB,
 * and building it as strings (per number, per item, then the whole) cost more CPU than running
 * the model. Floats are written with the nine digits a float32 has (see float32-text.ts); base64
 * is the vector's little-endian float32 bytes, which the openai SDK decodes.
 */
export function encodeEmbeddingList({ vectors, model, promptTokens, format }: EmbeddingList): Buffer {
  const head = '{"object":"list","data":[';
  const usage = JSON.stringify({ prompt_tokens: promptTokens, total_tokens: promptTokens });
  const tail = `],"model":${JSON.stringify(model)},"usage":${usage}}`;
  const perVector = (v: Float32Array) => (format === 'float' ? vectorTextBytes(v.length) : Math.ceil(v.byteLength / 3) * 4 + 2);
  const capacity =
    Buffer.byteLength(head) + Buffer.byteLength(tail) + vectors.reduce((n, v) => n + ITEM_FRAMING_BYTES + perVector(v), 0);
  const buf = Buffer.allocUnsafe(capacity);
  let pos = buf.write(head, 0, 'latin1');
  vectors.forEach((v, index) => {
    if (index > 0) pos += buf.write(',', pos, 'latin1');
    pos += buf.write(`${ITEM_HEAD}${index}${ITEM_EMBEDDING}`, pos, 'latin1');
    if (format === 'float') {
      pos = writeFloat32Array(buf, pos, v);
    } else {
      pos += buf.write(`"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"`, pos, 'latin1');
    }
    pos += buf.write('}', pos, 'latin1');
  });
  pos += buf.write(tail, pos, 'utf8');
  return buf.subarray(0, pos);
}

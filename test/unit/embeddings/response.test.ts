import { describe, expect, it } from 'vitest';
import { encodeEmbeddingList } from '../../../src/embeddings/response.js';

/** The longest text a float32 can take (`-0.00000xxxxxxxxx`), in every slot: the buffer's worst case. */
const widest = (dims: number) => new Float32Array(dims).fill(-0.00000123456789);

describe('embedding list encoder', () => {
  it('writes the OpenAI list shape, in order, even when every value takes the most room', () => {
    const vectors = Array.from({ length: 256 }, () => widest(384));
    const body = JSON.parse(
      encodeEmbeddingList({ vectors, model: 'modèle-ü', promptTokens: 77, format: 'float' }).toString('utf8'),
    ) as {
      object: string;
      data: { object: string; index: number; embedding: number[] }[];
      model: string;
      usage: unknown;
    };
    expect(body.object).toBe('list');
    expect(body.model).toBe('modèle-ü');
    expect(body.usage).toEqual({ prompt_tokens: 77, total_tokens: 77 });
    expect(body.data.map((d) => d.index)).toEqual(vectors.map((_, i) => i));
    for (const d of body.data) {
      expect(d.object).toBe('embedding');
      expect(d.embedding.map(Math.fround)).toEqual(Array.from(widest(384)));
    }
  });

  it('writes base64 of the little-endian float32 bytes, also for views into a larger buffer', () => {
    const batch = Float32Array.of(1, -0.5, 0.25, 3, 4, 5);
    const vectors = [batch.subarray(0, 3), batch.subarray(3, 6)];
    const body = JSON.parse(encodeEmbeddingList({ vectors, model: 'm', promptTokens: 2, format: 'base64' }).toString()) as {
      data: { embedding: string }[];
    };
    const decoded = body.data.map((d) => {
      const b = Buffer.from(d.embedding, 'base64');
      return Array.from(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4));
    });
    expect(decoded).toEqual([
      [1, -0.5, 0.25],
      [3, 4, 5],
    ]);
  });

  it('answers an empty list as valid JSON', () => {
    expect(
      JSON.parse(encodeEmbeddingList({ vectors: [], model: 'm', promptTokens: 0, format: 'float' }).toString()),
    ).toMatchObject({ data: [] });
  });
});

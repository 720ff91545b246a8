import type { ModelLocation } from './location.js';

/** What the service knows of the model loaded on the embedding thread. */
export interface ModelInfo {
  readonly id: string;
  readonly dir: string;
  readonly dims: number;
  readonly weightBytes: number;
  readonly loadMs: number;
}

export interface ThreadData {
  readonly location: ModelLocation;
}

export interface ToThread {
  readonly id: number;
  readonly texts: readonly string[];
}

export type FromThread =
  | { readonly kind: 'ready'; readonly info: ModelInfo }
  /** `config`: the folder is missing or unusable (exit 1 with the message), not a crash. */
  | { readonly kind: 'load-failed'; readonly message: string; readonly config: boolean }
  /** `data`: the batch's vectors end to end, `dims` values each; its buffer is transferred. */
  | { readonly kind: 'embedded'; readonly id: number; readonly data: Float32Array; readonly tokens: number[] }
  | { readonly kind: 'embed-failed'; readonly id: number; readonly message: string };

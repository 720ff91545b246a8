import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '../errors/errors.js';

// Apart from the model loader so that the main thread, which only locates the model for the
// embedding thread, never loads transformers.js and ONNX Runtime itself.

export interface ModelLocation {
  readonly dir: string;
  readonly id: string;
}

interface ShippedModelPackage {
  readonly modelDir: string;
  readonly modelId: string;
}

/** EMBEDDING_MODEL_DIR when set, else the folder shipped in the @lastcall/embedding-model package. */
export function locateModel(configured: string | undefined): ModelLocation {
  if (configured) {
    const dir = path.resolve(configured);
    return { dir, id: path.basename(dir) };
  }
  let shipped: ShippedModelPackage;
  try {
    shipped = createRequire(import.meta.url)('@lastcall/embedding-model') as ShippedModelPackage;
  } catch {
    throw new ConfigError('EMBEDDING_MODEL_DIR is unset and the @lastcall/embedding-model package is not installed');
  }
  return { dir: shipped.modelDir, id: shipped.modelId };
}

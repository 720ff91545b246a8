/**
 * Entry point of the embedding thread: loads the model with the same code as an in-process
 * load and answers each batch it is sent. Two may be outstanding; they still run one after the
 * other, since ONNX Runtime's Node binding runs a session synchronously on this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../errors/errors.js';
import { loadEmbeddingModel, type EmbeddingModel } from './model.js';
import type { FromThread, ThreadData, ToThread } from './thread-protocol.js';

const port = parentPort;
if (!port) throw new Error('model-thread.js runs only as a worker thread');
const send = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

let model: EmbeddingModel;
try {
  model = await loadEmbeddingModel((workerData as ThreadData).location);
} catch (err) {
  send({ kind: 'load-failed', message: firstLine(err), config: err instanceof ConfigError });
  port.close();
  process.exit(0);
}
const { id, dir, dims, weightBytes, loadMs } = model;
send({ kind: 'ready', info: { id, dir, dims, weightBytes, loadMs } });

// No dispose message: the service ends this thread, which releases the session with it.
port.on('message', (msg: ToThread) => {
  model.embed(msg.texts).then(
    ({ vectors, tokens }) => {
      const data = new Float32Array(vectors.length * dims);
      vectors.forEach((v, i) => data.set(v, i * dims));
      send({ kind: 'embedded', id: msg.id, data, tokens }, [data.buffer]);
    },
    (err: unknown) => send({ kind: 'embed-failed', id: msg.id, message: firstLine(err) }),
  );
});

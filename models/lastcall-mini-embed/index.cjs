'use strict';
// Directory holding the transformers.js model files. Load with:
//   env.allowRemoteModels = false;
//   const extractor = await pipeline('feature-extraction', modelDir, { local_files_only: true, dtype: 'q8' });
//   const out = await extractor(texts, { pooling: 'mean', normalize: true });
const path = require('node:path');

module.exports = {
  modelDir: __dirname,
  modelId: 'lastcall-mini-embed',
  dims: 128,
  dtype: 'q8',
  onnxFile: path.join(__dirname, 'onnx', 'model_quantized.onnx'),
};

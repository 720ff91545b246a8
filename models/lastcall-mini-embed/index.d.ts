/** Absolute directory of the transformers.js model files (pass to pipeline('feature-extraction', modelDir, ...)). */
export declare const modelDir: string;
export declare const modelId: 'lastcall-mini-embed';
export declare const dims: 128;
/** transformers.js dtype to request (file onnx/model_quantized.onnx); config.json also defaults to it. */
export declare const dtype: 'q8';
export declare const onnxFile: string;

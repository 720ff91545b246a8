/**
 * ONNX Runtime 1.30 on Linux sends usage telemetry to Microsoft unless told not to. A pod must
 * not phone home, and where DNS is unreachable the uploader held process exit for seconds (the
 * e2e saw replicas SIGKILLed at the end of their grace period). The runtime reads the process
 * environment when it creates its first session; a worker thread's process.env is only a copy,
 * so this must run on the main thread before the model thread starts. A value the operator set
 * wins.
 */
export function disableOnnxRuntimeTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
}

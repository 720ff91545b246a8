/**
 * Every metric name the service exports, in one place: the Grafana dashboard, the chart's
 * ServiceMonitor docs and the e2e Prometheus checks import these constants, so a rename breaks
 * the build instead of silently emptying a panel.
 */
export const METRICS = {
  ready: 'lastcall_ready',
  shutdownPhase: 'lastcall_shutdown_phase',
  shutdownPhaseDuration: 'lastcall_shutdown_phase_duration_seconds',
  shutdownBudget: 'lastcall_shutdown_budget_seconds',
  shutdownParticipantTimeouts: 'lastcall_shutdown_participant_timeouts_total',
  httpInFlight: 'lastcall_http_requests_in_flight',
  httpRequests: 'lastcall_http_requests_total',
  httpRejected: 'lastcall_http_rejected_total',
  httpConnections: 'lastcall_http_connections',
  databaseErrors: 'lastcall_database_errors_total',
  databaseNotifications: 'lastcall_database_notifications_total',
  databaseListening: 'lastcall_database_listening',
  streamsActive: 'lastcall_streams_active',
  streamsTotal: 'lastcall_streams_total',
  streamResumes: 'lastcall_stream_resumes_total',
  streamTokens: 'lastcall_stream_tokens_total',
  streamHandoffs: 'lastcall_stream_handoffs_total',
  streamsStarted: 'lastcall_streams_started_total',
  streamTakeovers: 'lastcall_stream_takeovers_total',
  streamClients: 'lastcall_stream_clients',
  streamResets: 'lastcall_stream_resets_total',
  streamRegeneratedTokens: 'lastcall_stream_regenerated_tokens_total',
  streamReattaches: 'lastcall_stream_reattaches_total',
  streamResumeFallbacks: 'lastcall_stream_resume_fallbacks_total',
  streamLogWriteDuration: 'lastcall_stream_log_write_duration_seconds',
  retentionDeleted: 'lastcall_retention_deleted_total',
  retentionLastSweep: 'lastcall_retention_last_sweep_timestamp_seconds',
  taskEventStreams: 'lastcall_task_event_streams',
  tasksActive: 'lastcall_tasks_active',
  tasksTotal: 'lastcall_tasks_total',
  taskHandoffs: 'lastcall_task_handoffs_total',
  tasksRecovered: 'lastcall_tasks_recovered_total',
  taskCheckpoints: 'lastcall_task_checkpoints_total',
  taskStepDuration: 'lastcall_task_step_duration_seconds',
  embeddingModelLoaded: 'lastcall_embedding_model_loaded',
  embeddingModelBytes: 'lastcall_embedding_model_bytes',
  embeddingMemoryReturnedBytes: 'lastcall_embedding_memory_returned_bytes',
  embeddingsInFlight: 'lastcall_embeddings_in_flight',
  embeddingInputsTotal: 'lastcall_embedding_inputs_total',
  /** prom-client's default process metrics, unprefixed as Prometheus conventions expect. */
  processResidentMemory: 'process_resident_memory_bytes',
  nodejsExternalMemory: 'nodejs_external_memory_bytes',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

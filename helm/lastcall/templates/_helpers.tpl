{{/*
Names. Kubernetes names are DNS labels: truncated to 63 characters, no trailing dash.
*/}}
{{- define "lastcall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lastcall.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name derived from the full name plus a suffix, still at most 63 characters. */}}
{{- define "lastcall.componentName" -}}
{{- $suffix := index . 1 -}}
{{- $base := include "lastcall.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $base $suffix -}}
{{- end -}}

{{- define "lastcall.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lastcall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lastcall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lastcall.labels" -}}
helm.sh/chart: {{ include "lastcall.chart" . }}
{{ include "lastcall.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lastcall
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The server's selector labels (the Deployment's pods only, not PostgreSQL or test pods). */}}
{{- define "lastcall.serverSelectorLabels" -}}
{{ include "lastcall.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "lastcall.postgresql.fullname" -}}
{{- include "lastcall.componentName" (list . "postgresql") -}}
{{- end -}}

{{- define "lastcall.postgresql.selectorLabels" -}}
{{ include "lastcall.selectorLabels" . }}
app.kubernetes.io/component: postgresql
{{- end -}}

{{- define "lastcall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lastcall.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lastcall.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Shutdown timings: one place computes them; the pod spec (grace period, preStop hook) and the
app's env are both rendered from this dict, so they cannot disagree.
Returns YAML: grace, preStop, margin, propagation, finalScrape, budget (= grace - preStop - margin).
*/}}
{{- define "lastcall.shutdown" -}}
{{- $s := .Values.shutdown -}}
{{- $grace := int $s.terminationGracePeriodSeconds -}}
{{- $preStop := int $s.preStopSleepSeconds -}}
{{- $margin := int $s.safetyMarginSeconds -}}
{{- $propagation := 5 -}}
{{- if gt $preStop 0 }}{{ $propagation = 0 }}{{ end -}}
{{- if not (kindIs "invalid" $s.endpointPropagationSeconds) }}{{ $propagation = int $s.endpointPropagationSeconds }}{{ end -}}
grace: {{ $grace }}
preStop: {{ $preStop }}
margin: {{ $margin }}
propagation: {{ $propagation }}
finalScrape: {{ int ($s.finalScrapeWaitSeconds | default 0) }}
budget: {{ sub (sub $grace $preStop) $margin }}
{{- end -}}

{{/* Native sleep action from Kubernetes 1.30 (PodLifecycleSleepAction beta, on by default). */}}
{{- define "lastcall.nativeSleep" -}}
{{- if semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version -}}true{{- end -}}
{{- end -}}

{{/* Which database the app uses: bundled | external | externalSecret | embedded */}}
{{- define "lastcall.databaseMode" -}}
{{- if .Values.postgresql.enabled -}}bundled
{{- else if .Values.database.existingSecret -}}externalSecret
{{- else if .Values.database.url -}}external
{{- else -}}embedded
{{- end -}}
{{- end -}}

{{/* The chart's own Secret is rendered only when it has something to hold. */}}
{{- define "lastcall.secretData" -}}
{{- if and (not .Values.secret.existingSecret) .Values.secret.apiKeys }}
API_KEYS: {{ join "," .Values.secret.apiKeys | b64enc | quote }}
{{- end }}
{{- if and (not .Values.secret.existingSecret) .Values.secret.openaiApiKey }}
OPENAI_API_KEY: {{ .Values.secret.openaiApiKey | b64enc | quote }}
{{- end }}
{{- if eq (include "lastcall.databaseMode" .) "external" }}
DATABASE_URL: {{ .Values.database.url | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "lastcall.postgresql.secretName" -}}
{{- default (include "lastcall.postgresql.fullname" .) .Values.postgresql.auth.existingSecret -}}
{{- end -}}

{{/*
Container env shared by the server and the helm test pod: API key, from wherever it lives.
*/}}
{{- define "lastcall.apiKeysEnv" -}}
{{- if .Values.secret.existingSecret }}
# Fail closed: unless anonymous access was chosen, a Secret without API_KEYS keeps the pod from
# starting (CreateContainerConfigError) instead of serving an open API.
- name: API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secret.existingSecret }}
      key: API_KEYS
      optional: {{ .Values.auth.allowAnonymous }}
{{- else if .Values.secret.apiKeys }}
- name: API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "lastcall.fullname" . }}
      key: API_KEYS
{{- end }}
{{- end -}}

{{/*
The TCP port of a URL: (list url default) -> "port". An explicit :port wins; else 443 for https,
80 for http, else the default (e.g. postgresql:// without a port -> 5432).
*/}}
{{- define "lastcall.urlPort" -}}
{{- $u := index . 0 -}}
{{- $default := index . 1 -}}
{{- if not $u -}}{{ $default }}
{{- else -}}
{{- $p := urlParse $u -}}
{{- $hostport := splitList ":" $p.host -}}
{{- if gt (len $hostport) 1 -}}{{ last $hostport }}
{{- else if eq $p.scheme "https" -}}443
{{- else if eq $p.scheme "http" -}}80
{{- else -}}{{ $default }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Egress ports as a JSON list: (list configuredPorts derivedPort) -> the configured ones, else the derived one. */}}
{{- define "lastcall.egressPorts" -}}
{{- $ports := index . 0 -}}
{{- if $ports -}}{{ toJson $ports }}{{- else -}}{{ toJson (list (int (index . 1))) }}{{- end -}}
{{- end -}}

{{/* Whether an autoscaler (HPA or KEDA) owns the replica count. */}}
{{- define "lastcall.autoscaled" -}}
{{- if or .Values.autoscaling.enabled .Values.autoscaling.keda.enabled -}}true{{- end -}}
{{- end -}}

{{/*
KEDA's query: autoscaling.keda.query, or the total of lastcall_streams_active over this release's
pods, selected by the `replica` label every lastcall series carries (the pod name:
<fullname>-<pod-template-hash>-<suffix>), whatever the scrape configuration adds.
*/}}
{{- define "lastcall.kedaQuery" -}}
{{- if .Values.autoscaling.keda.query -}}
{{- .Values.autoscaling.keda.query -}}
{{- else -}}
{{- printf "sum(lastcall_streams_active{namespace=%q, replica=~%q})" .Release.Namespace (printf "%s-[a-z0-9]+-[a-z0-9]+" (include "lastcall.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{/*
validateValues: the rules a JSON schema cannot express. Every problem is collected and the
render fails once, listing them all.
*/}}
{{- define "lastcall.validateValues" -}}
{{- $errors := list -}}
{{- $sd := include "lastcall.shutdown" . | fromYaml -}}
{{- $left := sub (sub (int $sd.budget) (int $sd.propagation)) (int $sd.finalScrape) -}}
{{- /* The phases' reserves, generated from src/drain/phases.ts into _generated.tpl. */ -}}
{{- $reserve := include "lastcall.drainReserveSeconds" . | int -}}
{{- if lt $left $reserve -}}
{{- $errors = append $errors (printf "shutdown: terminationGracePeriodSeconds (%d) - preStopSleepSeconds (%d) - safetyMarginSeconds (%d) - endpointPropagationSeconds (%d) - finalScrapeWaitSeconds (%d) = %d s leaves no drain budget; it must be >= %d, the shutdown phases' reserves (raise the grace period or shorten the preStop sleep)" (int $sd.grace) (int $sd.preStop) (int $sd.margin) (int $sd.propagation) (int $sd.finalScrape) $left $reserve) -}}
{{- end -}}
{{- $mode := include "lastcall.databaseMode" . -}}
{{- $as := .Values.autoscaling -}}
{{- if and $as.enabled $as.keda.enabled -}}
{{- $errors = append $errors "autoscaling: enabled (an HPA) and keda.enabled (a KEDA ScaledObject, which creates its own HPA) would fight over the replica count; choose one" -}}
{{- end -}}
{{- if include "lastcall.autoscaled" . -}}
{{- if gt (int $as.minReplicas) (int $as.maxReplicas) -}}
{{- $errors = append $errors (printf "autoscaling: minReplicas (%d) is above maxReplicas (%d)" (int $as.minReplicas) (int $as.maxReplicas)) -}}
{{- end -}}
{{- if and (eq $mode "embedded") (gt (int $as.maxReplicas) 1) -}}
{{- $errors = append $errors (printf "autoscaling: maxReplicas %d needs a shared database, but none is configured (the embedded PGlite database lives in one pod); set postgresql.enabled=true, database.url or database.existingSecret" (int $as.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- if $as.enabled -}}
{{- if and (not $as.targetCPUUtilizationPercentage) (not $as.targetActiveStreamsPerPod) -}}
{{- $errors = append $errors "autoscaling: the HPA needs a metric; set targetCPUUtilizationPercentage and/or targetActiveStreamsPerPod" -}}
{{- end -}}
{{- if and $as.targetCPUUtilizationPercentage (not (dig "requests" "cpu" "" .Values.resources)) -}}
{{- $errors = append $errors "autoscaling: targetCPUUtilizationPercentage needs resources.requests.cpu (utilization is a share of the request)" -}}
{{- end -}}
{{- end -}}
{{- if and $as.keda.enabled (not $as.keda.serverAddress) -}}
{{- $errors = append $errors "autoscaling.keda: serverAddress (the Prometheus KEDA queries) is required" -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) -}}
{{- $errors = append $errors "httpRoute: parentRefs is empty; name the Gateway the route attaches to" -}}
{{- end -}}
{{- if and .Values.ingress.enabled .Values.ingress.sseAnnotations (lt (int .Values.ingress.streamTimeoutSeconds) 60) -}}
{{- $errors = append $errors (printf "ingress: streamTimeoutSeconds %d would cut streams; it must outlast the longest stream (default 3600)" (int .Values.ingress.streamTimeoutSeconds)) -}}
{{- end -}}
{{- if and (eq $mode "embedded") (gt (int .Values.replicaCount) 1) -}}
{{- $errors = append $errors (printf "replicaCount: %d replicas need a shared database, but none is configured (the embedded PGlite database holds an exclusive lock and lives in one pod); set postgresql.enabled=true, database.url or database.existingSecret, or replicaCount=1" (int .Values.replicaCount)) -}}
{{- end -}}
{{- $dbSources := list -}}
{{- if .Values.postgresql.enabled }}{{ $dbSources = append $dbSources "postgresql.enabled" }}{{ end -}}
{{- if .Values.database.url }}{{ $dbSources = append $dbSources "database.url" }}{{ end -}}
{{- if .Values.database.existingSecret }}{{ $dbSources = append $dbSources "database.existingSecret" }}{{ end -}}
{{- if gt (len $dbSources) 1 -}}
{{- $errors = append $errors (printf "database: choose one of postgresql.enabled, database.url and database.existingSecret (got %s)" (join ", " $dbSources)) -}}
{{- end -}}
{{- if and .Values.secret.existingSecret (or .Values.secret.apiKeys .Values.secret.openaiApiKey) -}}
{{- $errors = append $errors "secret: secret.existingSecret is set, so secret.apiKeys and secret.openaiApiKey must be empty (put API_KEYS / OPENAI_API_KEY in that Secret)" -}}
{{- end -}}
{{- if and (not .Values.secret.apiKeys) (not .Values.secret.existingSecret) (not .Values.auth.allowAnonymous) -}}
{{- $errors = append $errors "auth: no API keys are configured, so anyone who reaches the Service could use the API; set secret.apiKeys (or secret.existingSecret with API_KEYS), or auth.allowAnonymous=true to run an open API on purpose" -}}
{{- end -}}
{{- $np := .Values.networkPolicy -}}
{{- if $np.enabled -}}
{{- if and (not $np.apiFrom) (not $np.allowApiFromAnywhere) -}}
{{- $errors = append $errors "networkPolicy: apiFrom is empty, so nothing could reach the API; list the peers that may (e.g. your ingress controller's namespace), or set networkPolicy.allowApiFromAnywhere=true to allow everyone on purpose" -}}
{{- end -}}
{{- if and $np.apiFrom $np.allowApiFromAnywhere -}}
{{- $errors = append $errors "networkPolicy: apiFrom and allowApiFromAnywhere=true contradict each other; choose one" -}}
{{- end -}}
{{- $dbMode := include "lastcall.databaseMode" . -}}
{{- if and (or (eq $dbMode "external") (eq $dbMode "externalSecret")) (not $np.egress.database.to) -}}
{{- $errors = append $errors "networkPolicy: the database is external but networkPolicy.egress.database.to is empty, so the pods could not reach it; list its address (ipBlock) or pods" -}}
{{- end -}}
{{- if and .Values.config.openaiBaseUrl (not $np.egress.upstream.to) -}}
{{- $errors = append $errors "networkPolicy: config.openaiBaseUrl is set but networkPolicy.egress.upstream.to is empty, so the pods could not reach the LLM; list its address (ipBlock, e.g. 0.0.0.0/0 for a public API) or pods" -}}
{{- end -}}
{{- if and .Values.tracing.otlpEndpoint (not $np.egress.otlp.to) -}}
{{- $errors = append $errors "networkPolicy: tracing.otlpEndpoint is set but networkPolicy.egress.otlp.to is empty, so spans could not reach the collector; list the collector's pods or address" -}}
{{- end -}}
{{- end -}}
{{- $us := .Values.updateStrategy -}}
{{- if and (eq (toString $us.maxSurge) "0") (eq (toString $us.maxUnavailable) "0") -}}
{{- $errors = append $errors "updateStrategy: maxSurge and maxUnavailable cannot both be 0" -}}
{{- end -}}
{{- if eq (int .Values.ports.http) (int .Values.ports.admin) -}}
{{- $errors = append $errors (printf "ports: http and admin must differ (both %d)" (int .Values.ports.http)) -}}
{{- end -}}
{{- $reserved := list "PORT" "ADMIN_PORT" "REPLICA_ID" "TERMINATION_GRACE_PERIOD_SECONDS" "PRESTOP_SLEEP_SECONDS" "SHUTDOWN_SAFETY_MARGIN_SECONDS" "ENDPOINT_PROPAGATION_SECONDS" "FINAL_SCRAPE_WAIT_SECONDS" "DATABASE_URL" "API_KEYS" "OPENAI_API_KEY" "DATA_DIR" "ALLOW_ANONYMOUS" "ALLOW_KEY_IN_QUERY" -}}
{{- range .Values.extraEnv -}}
{{- if has .name $reserved -}}
{{- $errors = append $errors (printf "extraEnv: %s is set by the chart from its own values; use those instead" .name) -}}
{{- end -}}
{{- end -}}
{{- if and (ne .Values.service.type "ClusterIP") (not (kindIs "invalid" .Values.service.nodePort)) (lt (int .Values.service.nodePort) 30000) -}}
{{- $errors = append $errors (printf "service.nodePort: %d is outside the default NodePort range 30000-32767" (int .Values.service.nodePort)) -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nlastcall: invalid values (%d problem(s)):\n  - %s\n" (len $errors) (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}

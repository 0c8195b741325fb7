{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "aigateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource. Truncated to 52 characters so that the longest suffix the chart
appends ("-migration", "-worker", ...) still fits a 63-character name.
*/}}
{{- define "aigateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aigateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "aigateway.labels" -}}
helm.sh/chart: {{ include "aigateway.chart" . }}
app.kubernetes.io/name: {{ include "aigateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aigateway
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "aigateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aigateway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "aigateway.componentLabels" -}}
{{ include "aigateway.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "aigateway.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{- define "aigateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aigateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret read by api and worker. */}}
{{- define "aigateway.secretName" -}}
{{- default (include "aigateway.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Secret read by the migration hook: the chart's hook Secret, or the existing Secret. */}}
{{- define "aigateway.migrationSecretName" -}}
{{- default (printf "%s-migration" (include "aigateway.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/* Keys of the Secret needed by api or worker. */}}
{{- define "aigateway.runtimeSecretKeys" -}}
{{- concat .Values.secretKeys.api .Values.secretKeys.worker | uniq | sortAlpha | toJson }}
{{- end }}

{{/* Secret data for a list of keys: (dict "root" $ "keys" (list ...)). Empty values are left out. */}}
{{- define "aigateway.secretData" -}}
{{- $secrets := .root.Values.secrets }}
{{- range $key := .keys }}
{{- $value := get $secrets $key }}
{{- if $value }}
{{ $key }}: {{ $value | toString | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Non-secret environment (the ConfigMap's data). */}}
{{- define "aigateway.configData" -}}
{{- $config := deepCopy .Values.config }}
{{- if and (not $config.PUBLIC_URL) .Values.ingress.enabled .Values.ingress.platformHost }}
{{- $_ := set $config "PUBLIC_URL" (printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.platformHost) }}
{{- end }}
{{- with .Values.redis }}
{{- if .sentinel.hosts }}
{{- $_ := set $config "REDIS_SENTINELS" (join "," .sentinel.hosts) }}
{{- $_ := set $config "REDIS_SENTINEL_NAME" .sentinel.masterName }}
{{- end }}
{{- if .cluster.nodes }}
{{- $_ := set $config "REDIS_CLUSTER_NODES" (join "," .cluster.nodes) }}
{{- end }}
{{- end }}
{{- range $key := keys $config | sortAlpha }}
{{- $value := get $config $key }}
{{- if not (eq (toString $value) "") }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* env entries taking each listed key from a Secret: (dict "secret" name "keys" list). */}}
{{- define "aigateway.secretEnv" -}}
{{- $secret := .secret }}
{{- range $key := .keys }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds of a component (api or worker values). It must outlast the preStop
sleep plus SHUTDOWN_GRACE_MS, otherwise the kubelet kills the process while it is still draining.
*/}}
{{- define "aigateway.terminationGracePeriod" -}}
{{- $v := .values }}
{{- $shutdown := divf $v.shutdownGraceMs 1000.0 }}
{{- $needed := addf $v.preStopSleepSeconds $shutdown }}
{{- if kindIs "invalid" $v.terminationGracePeriodSeconds }}
{{- add $v.preStopSleepSeconds (ceil $shutdown | int) 5 }}
{{- else if le (float64 $v.terminationGracePeriodSeconds) $needed }}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must exceed %s.preStopSleepSeconds + %s.shutdownGraceMs/1000 (%v s)" .component $v.terminationGracePeriodSeconds .component .component $needed) }}
{{- else }}
{{- $v.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* Pod-level securityContext; the hardening parts are not configurable. */}}
{{- define "aigateway.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.podSecurityContext }}
{{- if not (kindIs "invalid" .runAsUser) }}
runAsUser: {{ .runAsUser }}
{{- end }}
{{- if not (kindIs "invalid" .runAsGroup) }}
runAsGroup: {{ .runAsGroup }}
{{- end }}
{{- if not (kindIs "invalid" .fsGroup) }}
fsGroup: {{ .fsGroup }}
{{- end }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "aigateway.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Default topology spread for a component: zones, then nodes, both best effort. */}}
{{- define "aigateway.topologySpread" -}}
{{- $v := .values }}
{{- if $v.topologySpreadConstraints }}
{{- toYaml $v.topologySpreadConstraints }}
{{- else if $v.topologySpread }}
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
- maxSkew: 1
  topologyKey: {{ $key }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "aigateway.selectorLabels" (dict "root" $.root "component" $.component) | nindent 6 }}
  matchLabelKeys:
    - pod-template-hash
{{- end }}
{{- end }}
{{- end }}

{{/* Probes on the health endpoints: (dict "probes" values.probes). Liveness never checks dependencies. */}}
{{- define "aigateway.probes" -}}
startupProbe:
  httpGet:
    path: /health/live
    port: {{ .port }}
  {{- toYaml .probes.startup | nindent 2 }}
livenessProbe:
  httpGet:
    path: /health/live
    port: {{ .port }}
  {{- toYaml .probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /health/ready
    port: {{ .port }}
  {{- toYaml .probes.readiness | nindent 2 }}
{{- end }}

{{/* Checksums that roll the pods when their configuration changes. */}}
{{- define "aigateway.checksums" -}}
checksum/config: {{ include "aigateway.configData" . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include "aigateway.secretData" (dict "root" . "keys" (include "aigateway.runtimeSecretKeys" . | fromJsonArray)) | sha256sum }}
{{- end }}
{{- end }}

{{/*
PromQL label matchers selecting one component's series as scraped through the chart's
ServiceMonitor: (list $ "api").
*/}}
{{- define "aigateway.promSelector" -}}
{{- $root := index . 0 -}}
namespace="{{ $root.Release.Namespace }}",service="{{ include "aigateway.fullname" $root }}-{{ index . 1 }}"
{{- end }}

{{/* Host name turned into a Secret-name-safe fragment. */}}
{{- define "aigateway.hostSlug" -}}
{{- . | replace "*" "wildcard" | replace "." "-" | lower | trunc 200 | trimSuffix "-" }}
{{- end }}

{{/* Cross-field checks that values.schema.json cannot express. */}}
{{- define "aigateway.validate" -}}
{{- if and .Values.redis.sentinel.hosts .Values.redis.cluster.nodes }}
{{- fail "redis.sentinel.hosts and redis.cluster.nodes are mutually exclusive: a Redis is either a Cluster or a master watched by Sentinels" }}
{{- end }}
{{- if and .Values.keda.enabled .Values.worker.autoscaling.enabled }}
{{- fail "keda.enabled and worker.autoscaling.enabled are mutually exclusive: KEDA creates its own HPA for the worker" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.platformHost) }}
{{- fail "ingress.platformHost is required when ingress.enabled" }}
{{- end }}
{{- if and .Values.ingress.tls.certManager.clusterIssuer .Values.ingress.tls.certManager.issuer }}
{{- fail "set only one of ingress.tls.certManager.clusterIssuer and ingress.tls.certManager.issuer" }}
{{- end }}
{{- if has .Values.ingress.platformHost .Values.ingress.resellerHosts }}
{{- fail (printf "ingress.resellerHosts repeats the platform host %s" .Values.ingress.platformHost) }}
{{- end }}
{{- if .Values.migration.bootstrap.enabled }}
{{- if not .Values.migration.bootstrap.email }}
{{- fail "migration.bootstrap.email is required when migration.bootstrap.enabled" }}
{{- end }}
{{- if not (or .Values.migration.bootstrap.domain .Values.ingress.platformHost) }}
{{- fail "migration.bootstrap.domain (or ingress.platformHost) is required when migration.bootstrap.enabled" }}
{{- end }}
{{- if not (has "BOOTSTRAP_OWNER_PASSWORD" .Values.secretKeys.migration) }}
{{- fail "secretKeys.migration must contain BOOTSTRAP_OWNER_PASSWORD when migration.bootstrap.enabled" }}
{{- end }}
{{- if and (not .Values.existingSecret) (not .Values.secrets.BOOTSTRAP_OWNER_PASSWORD) }}
{{- fail "secrets.BOOTSTRAP_OWNER_PASSWORD is required when migration.bootstrap.enabled (or put it in existingSecret)" }}
{{- end }}
{{- end }}
{{- if .Values.existingSecret }}
{{- range $key, $value := .Values.secrets }}
{{- if $value }}
{{- fail (printf "secrets.%s is set but existingSecret is used: put the value in the existing Secret instead" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $_ := include "aigateway.terminationGracePeriod" (dict "values" .Values.api "component" "api") }}
{{- $_ := include "aigateway.terminationGracePeriod" (dict "values" .Values.worker "component" "worker") }}
{{- end }}

{{/* Tracing env of a component: (dict "tracing" .Values.tracing "component" "api"). */}}
{{- define "aigateway.tracingEnv" -}}
{{- $t := .tracing }}
- name: TRACING_ENABLED
  value: {{ ternary "true" "false" (eq (toString $t.enabled) "true") | quote }}
{{- if $t.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.otlpEndpoint | quote }}
{{- end }}
{{- if $t.serviceName }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "%s-%s" $t.serviceName .component | quote }}
{{- end }}
{{- if ne (toString $t.sampleRatio) "" }}
- name: TRACING_SAMPLE_RATIO
  value: {{ toString $t.sampleRatio | quote }}
{{- end }}
{{- end }}

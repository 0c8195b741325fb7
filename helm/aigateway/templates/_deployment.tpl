{{/*
Deployment of a long-running process. Arguments:
  root       the chart root context
  component  "api" | "worker"
  values     .Values.api | .Values.worker
  portName   name of the container port serving health (and, for the api, traffic)
  portEnv    env var carrying that port (PORT | WORKER_PORT)
  /metrics is served on a port of its own, named `metrics` (env METRICS_PORT, values.metricsPort).
  autoscaled true when an HPA or ScaledObject owns the replica count
*/}}
{{- define "aigateway.deployment" -}}
{{- $root := .root }}
{{- $v := .values }}
{{- $component := .component }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "aigateway.fullname" $root }}-{{ $component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aigateway.componentLabels" (dict "root" $root "component" $component) | nindent 4 }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "aigateway.selectorLabels" (dict "root" $root "component" $component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "aigateway.selectorLabels" (dict "root" $root "component" $component) | nindent 8 }}
        app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
        {{- with (merge (deepCopy $v.podLabels) $root.Values.podLabels) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "aigateway.checksums" $root | nindent 8 }}
        {{- with (merge (deepCopy $v.podAnnotations) $root.Values.podAnnotations) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "aigateway.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ include "aigateway.terminationGracePeriod" (dict "values" $v "component" $component) }}
      securityContext:
        {{- include "aigateway.podSecurityContext" $root | nindent 8 }}
      {{- with (include "aigateway.topologySpread" (dict "root" $root "component" $component "values" $v) | trim) }}
      topologySpreadConstraints:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $component }}
          image: {{ include "aigateway.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ $component | quote }}]
          ports:
            - name: {{ .portName }}
              containerPort: {{ $v.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $v.metricsPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "aigateway.fullname" $root }}
          env:
            - name: {{ .portEnv }}
              value: {{ $v.port | quote }}
            - name: METRICS_PORT
              value: {{ $v.metricsPort | quote }}
            - name: SHUTDOWN_GRACE_MS
              value: {{ $v.shutdownGraceMs | quote }}
            {{- include "aigateway.tracingEnv" (dict "tracing" $root.Values.tracing "component" $component) | nindent 12 }}
            {{- include "aigateway.secretEnv" (dict "secret" (include "aigateway.secretName" $root) "keys" (get $root.Values.secretKeys $component)) | trim | nindent 12 }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- include "aigateway.probes" (dict "port" .portName "probes" $v.probes) | nindent 10 }}
          {{- if gt (int $v.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $v.preStopSleepSeconds }}
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "aigateway.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
{{- end }}

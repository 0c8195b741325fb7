{{/* HorizontalPodAutoscaler of a component: (dict "root" $ "component" "api" "values" .Values.api). */}}
{{- define "aigateway.hpa" -}}
{{- $root := .root }}
{{- $a := .values.autoscaling }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "aigateway.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aigateway.componentLabels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "aigateway.fullname" $root }}-{{ .component }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- if not (kindIs "invalid" $a.targetMemoryUtilizationPercentage) }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $a.targetMemoryUtilizationPercentage }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* PodDisruptionBudget of a component. */}}
{{- define "aigateway.pdb" -}}
{{- $root := .root }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "aigateway.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "aigateway.componentLabels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  {{- /* Pods that never became ready may be evicted, so a broken rollout cannot block node drains. */}}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "aigateway.selectorLabels" (dict "root" $root "component" .component) | nindent 6 }}
{{- end }}

{{/* The ConfigMap holding teleport-<plugin>.toml, rendered by the chart's "teleport-plugin.toml"
plus the `[ops]` section every plugin shares. */}}
{{- define "tplib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "tplib.fullname" . }}
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
  {{- with .Values.annotations.config }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  {{ include "tplib.configFile" . }}: |
    {{- include "teleport-plugin.toml" . | nindent 4 }}
    {{- if .Values.ops.enabled }}

    [ops]
    listen_addr = {{ printf "0.0.0.0:%d" (int .Values.ops.port) | toJson }}
    {{- end }}
{{- end -}}

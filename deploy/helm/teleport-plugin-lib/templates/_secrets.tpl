{{/*
Secret slots: each plugin chart defines "teleport-plugin.secrets", a YAML list of the secrets
its TOML reads from files, one entry per enabled secret:

  - volume: password-file         # pod volume name
    value: "xoxb-..."             # inline value (goes into the chart's own Secret)
    fromSecret: ""                # name of an existing Secret to use instead
    key: slackToken               # key inside that Secret
    file: slack-token             # file name under /var/lib/teleport/plugins/<plugin>/

"tplib.secretSlots" normalizes that list: it adds `path` (the mounted file) and `secretName`
(the existing Secret, or "<fullname>-secret" which secret.yaml creates).
*/}}

{{- define "tplib.secretSlots" -}}
{{- $raw := include "teleport-plugin.secrets" . | trim -}}
{{- $slots := list -}}
{{- if $raw -}}
{{- $slots = fromYamlArray $raw -}}
{{- end -}}
{{- $out := list -}}
{{- range $slots -}}
{{- $secretName := default (printf "%s-secret" (include "tplib.fullname" $)) .fromSecret -}}
{{- $path := printf "%s/%s" (include "tplib.dataDir" $) .file -}}
{{- $out = append $out (merge (dict "path" $path "secretName" $secretName) .) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The mounted file a slot's secret is read from, by file name (for the plugin's TOML). */}}
{{- define "tplib.secretPath" -}}
{{- $ctx := index . 0 -}}
{{- $file := index . 1 -}}
{{ include "tplib.dataDir" $ctx }}/{{ $file }}
{{- end -}}

{{/* The chart's own Secret holds every inline value whose slot names no existing Secret. */}}
{{- define "tplib.secret" -}}
{{- $slots := include "tplib.secretSlots" . | fromYamlArray -}}
{{- $inline := list -}}
{{- range $slots -}}
{{- if not .fromSecret -}}
{{- $inline = append $inline . -}}
{{- end -}}
{{- end -}}
{{- if $inline }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "tplib.fullname" . }}-secret
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
  {{- with .Values.annotations.secret }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
type: Opaque
data:
  {{- range $inline }}
  {{ .key }}: {{ .value | default "" | toString | b64enc | quote }}
  {{- end }}
{{- end }}
{{- end -}}

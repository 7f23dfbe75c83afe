{{/* What makes this chart Slack's: its TOML, its secret files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[slack]
token = {{ include "tplib.secretPath" (list . "slack-token") | toJson }}

{{ include "tplib.toml.roleToRecipients" .Values.roleToRecipients }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.slack.token | quote }}
  fromSecret: {{ .Values.slack.tokenFromSecret | quote }}
  key: {{ .Values.slack.tokenSecretPath | quote }}
  file: slack-token
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

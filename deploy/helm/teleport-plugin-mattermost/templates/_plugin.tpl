{{/* What makes this chart Mattermost's: its TOML, its secret files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[mattermost]
url = {{ .Values.mattermost.url | toJson }}
token = {{ include "tplib.secretPath" (list . "mattermost_token") | toJson }}
{{- with include "tplib.toml.recipients" (list .Values.roleToRecipients .Values.mattermost.recipients) }}

{{ . }}
{{- end }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.mattermost.token | quote }}
  fromSecret: {{ .Values.mattermost.tokenFromSecret | quote }}
  key: {{ .Values.mattermost.tokenSecretPath | quote }}
  file: mattermost_token
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

{{/* What makes this chart PagerDuty's: its TOML, its secret files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[pagerduty]
api_key = {{ include "tplib.secretPath" (list . "pagerduty_api_key") | toJson }}
user_email = {{ .Values.pagerduty.userEmail | toJson }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.pagerduty.apiKey | quote }}
  fromSecret: {{ .Values.pagerduty.apiKeyFromSecret | quote }}
  key: {{ .Values.pagerduty.apiKeySecretPath | quote }}
  file: pagerduty_api_key
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

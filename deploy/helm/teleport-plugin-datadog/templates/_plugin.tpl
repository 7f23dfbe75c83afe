{{/* What makes this chart Datadog's: its TOML, its two key files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[datadog]
{{- with .Values.datadog.apiEndpoint }}
api_endpoint = {{ . | toJson }}
{{- end }}
api_key = {{ include "tplib.secretPath" (list . "datadog-api-key") | toJson }}
application_key = {{ include "tplib.secretPath" (list . "datadog-application-key") | toJson }}
{{- with .Values.datadog.severity }}
severity = {{ . | toJson }}
{{- end }}
{{- with .Values.datadog.autoApproval }}

[datadog.auto_approval]
enabled = {{ ne .enabled false }}
{{- with .teams }}
teams = {{ . | toJson }}
{{- end }}
{{- with .allowedRoles }}
allowed_roles = {{ . | toJson }}
{{- end }}
dry_run = {{ .dryRun | default false }}
{{- end }}

{{- /* The Go chart's one `fallbackRecipient` is the "*" entry unless roleToRecipients has one. */ -}}
{{- $fallback := list -}}
{{- with .Values.datadog.fallbackRecipient -}}
{{- $fallback = list . -}}
{{- end -}}
{{- with include "tplib.toml.recipients" (list .Values.roleToRecipients $fallback) }}

{{ . }}
{{- end }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.datadog.apiKey | quote }}
  fromSecret: {{ .Values.datadog.apiKeyFromSecret | quote }}
  key: {{ .Values.datadog.apiKeySecretPath | quote }}
  file: datadog-api-key
- volume: application-key
  value: {{ .Values.datadog.applicationKey | quote }}
  fromSecret: {{ .Values.datadog.applicationKeyFromSecret | quote }}
  key: {{ .Values.datadog.applicationKeySecretPath | quote }}
  file: datadog-application-key
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

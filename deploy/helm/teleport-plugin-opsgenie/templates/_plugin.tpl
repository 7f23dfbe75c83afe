{{/* What makes this chart Opsgenie's: its TOML, its secret files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[opsgenie]
api_key = {{ include "tplib.secretPath" (list . "opsgenie_api_key") | toJson }}
{{- with .Values.opsgenie.apiEndpoint }}
api_endpoint = {{ . | toJson }}
{{- end }}
{{- with .Values.opsgenie.priority }}
priority = {{ . | toJson }}
{{- end }}
{{- with .Values.opsgenie.defaultSchedules }}
default_schedules = {{ . | toJson }}
{{- end }}
{{- with .Values.opsgenie.defaultTeams }}
default_teams = {{ . | toJson }}
{{- end }}
{{- with .Values.opsgenie.autoApproval }}

[opsgenie.auto_approval]
enabled = {{ ne .enabled false }}
{{- with .schedules }}
schedules = {{ . | toJson }}
{{- end }}
{{- with .allowedRoles }}
allowed_roles = {{ . | toJson }}
{{- end }}
dry_run = {{ .dryRun | default false }}
{{- end }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.opsgenie.apiKey | quote }}
  fromSecret: {{ .Values.opsgenie.apiKeyFromSecret | quote }}
  key: {{ .Values.opsgenie.apiKeySecretPath | quote }}
  file: opsgenie_api_key
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

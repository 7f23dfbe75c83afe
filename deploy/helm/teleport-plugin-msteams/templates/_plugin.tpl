{{/* What makes this chart Microsoft Teams': its TOML, its secret file and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
# Resolve every recipient at start-up (installing the app for people), as the Go chart does.
preload = true

{{ include "tplib.toml.teleport" . }}

[msapi]
app_id = {{ .Values.msTeams.appID | toJson }}
tenant_id = {{ .Values.msTeams.tenantID | toJson }}
teams_app_id = {{ .Values.msTeams.teamsAppID | toJson }}
app_secret = {{ include "tplib.secretPath" (list . "appSecret") | toJson }}
{{- with .Values.msTeams.region }}
region = {{ . | toJson }}
{{- end }}
{{- if .Values.msTeams.lookupPosted }}
lookup_posted = true
{{- end }}

{{ include "tplib.toml.roleToRecipients" .Values.roleToRecipients }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.msTeams.appSecret | quote }}
  fromSecret: {{ .Values.msTeams.appSecretFromSecret | quote }}
  key: {{ .Values.msTeams.appSecretFromSecretKey | quote }}
  file: appSecret
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

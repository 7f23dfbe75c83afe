{{/* What makes this chart ServiceNow's: its TOML, its secret files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[servicenow]
api_endpoint = {{ .Values.servicenow.apiEndpoint | toJson }}
username = {{ .Values.servicenow.username | toJson }}
api_token = {{ include "tplib.secretPath" (list . "servicenow_api_token") | toJson }}
close_code = {{ .Values.servicenow.closeCode | toJson }}
{{- with .Values.servicenow.autoApproval }}

[servicenow.auto_approval]
enabled = {{ ne .enabled false }}
{{- with .rotas }}
rotas = {{ . | toJson }}
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
  value: {{ .Values.servicenow.apiToken | quote }}
  fromSecret: {{ .Values.servicenow.apiTokenFromSecret | quote }}
  key: {{ .Values.servicenow.apiTokenSecretPath | quote }}
  file: servicenow_api_token
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

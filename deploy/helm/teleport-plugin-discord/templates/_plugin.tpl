{{/* What makes this chart Discord's: its TOML, its secret files and its (no) ports. */}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[discord]
token = {{ include "tplib.secretPath" (list . "discord-token") | toJson }}

{{ include "tplib.toml.roleToRecipients" .Values.roleToRecipients }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.discord.token | quote }}
  fromSecret: {{ .Values.discord.tokenFromSecret | quote }}
  key: {{ .Values.discord.tokenSecretPath | quote }}
  file: discord-token
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

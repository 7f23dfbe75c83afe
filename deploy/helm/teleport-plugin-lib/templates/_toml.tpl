{{/*
TOML fragments shared by the plugins' config files. Strings and lists go through toJson:
a JSON string or array of strings is also a valid TOML basic string or array, escapes included.
*/}}

{{- define "tplib.toml.teleport" -}}
[teleport]
addr = {{ include "tplib.teleportAddress" . | toJson }}
identity = {{ include "tplib.identityPath" . | toJson }}
refresh_identity = true
{{- end -}}

{{- define "tplib.toml.log" -}}
[log]
output = {{ .Values.log.output | toJson }}
severity = {{ .Values.log.severity | toJson }}
{{- end -}}

{{/* `[role_to_recipients]` from a map of role -> string or list of strings (sorted by role). */}}
{{- define "tplib.toml.roleToRecipients" -}}
[role_to_recipients]
{{- range $role, $recipients := . }}
{{ $role | toJson }} = {{ $recipients | toJson }}
{{- end }}
{{- end -}}

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

{{/*
`[role_to_recipients]` from a list of two values: the map of role -> string or list of strings
(`roleToRecipients`) and a plain recipients list (the Go charts' `mattermost.recipients` or
`delivery.recipients`), which becomes the "*" entry unless the map has one. The plugins read
the plain lists too, but as deprecated keys with a warning at every start. Nothing is rendered
when both are empty (the plugin then reports what it needs).
*/}}
{{- define "tplib.toml.recipients" -}}
{{- $map := deepCopy (index . 0 | default dict) -}}
{{- $fallback := index . 1 | default list -}}
{{- if and $fallback (not (hasKey $map "*")) -}}
{{- $_ := set $map "*" $fallback -}}
{{- end -}}
{{- if $map -}}
{{ include "tplib.toml.roleToRecipients" $map }}
{{- end -}}
{{- end -}}

{{/* `[role_to_recipients]` from a map of role -> string or list of strings (sorted by role). */}}
{{- define "tplib.toml.roleToRecipients" -}}
[role_to_recipients]
{{- range $role, $recipients := . }}
{{ $role | toJson }} = {{ $recipients | toJson }}
{{- end }}
{{- end -}}

{{/* NOTES.txt shared by the plugin charts. */}}
{{- define "tplib.notes" -}}
{{- $plugin := include "tplib.plugin" . -}}
teleport-{{ $plugin }} is deployed as {{ include "tplib.fullname" . }} in namespace {{ .Release.Namespace }}.

Config: ConfigMap {{ include "tplib.fullname" . }}, mounted at {{ include "tplib.configPath" . }}.
{{- if .Values.tbot.enabled }}
Identity: short-lived, renewed by the tbot sidecar (join token "{{ .Values.tbot.token | default (include "tplib.fullname" .) }}",
method {{ .Values.tbot.joinMethod }}). Create the bot and its token in Teleport first, e.g.:
  tctl bots add {{ include "tplib.fullname" . }} --roles=access-plugin
{{- else }}
Identity: Secret {{ include "tplib.identitySecretName" . }}, key {{ .Values.teleport.identitySecretPath }}.
{{- if not .Values.teleport.identitySecretName }}

WARNING: teleport.identitySecretName is empty, so the pod waits for a Secret named
{{ include "tplib.identitySecretName" . }}. Create it from an identity file:
  tctl auth sign --format=file --user=access-plugin --out=auth_id --ttl=2190h
  kubectl -n {{ .Release.Namespace }} create secret generic {{ include "tplib.identitySecretName" . }} --from-file={{ .Values.teleport.identitySecretPath }}=auth_id
{{- end }}
{{- end }}

Logs: kubectl -n {{ .Release.Namespace }} logs deploy/{{ include "tplib.fullname" . }} -c {{ $plugin }}
{{- end -}}

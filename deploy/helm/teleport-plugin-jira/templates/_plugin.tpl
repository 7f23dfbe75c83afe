{{/* What makes this chart Jira's: its TOML, its secret files, its webhook port. */}}

{{/*
Go's chart names the identity Secret `teleport.identityFromSecret` (the other charts:
`identitySecretName`); either works here. Included first by every template (renders nothing).
*/}}
{{- define "jira.values" -}}
{{- if and .Values.teleport.identityFromSecret (not .Values.teleport.identitySecretName) -}}
{{- $_ := set .Values.teleport "identitySecretName" .Values.teleport.identityFromSecret -}}
{{- end -}}
{{- if and (not .Values.http.enabled) (not .Values.jira.pollInterval) -}}
{{- fail "http.enabled is false and jira.pollInterval is empty: the plugin would never learn of decisions made in Jira" -}}
{{- end -}}
{{- end -}}

{{- define "jira.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "tplib.fullname" .)) .Values.http.tlsFromSecret -}}
{{- end -}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[jira]
url = {{ .Values.jira.url | toJson }}
username = {{ .Values.jira.username | toJson }}
api_token = {{ include "tplib.secretPath" (list . "jira_api_token") | toJson }}
project = {{ .Values.jira.project | toJson }}
{{- with .Values.jira.issueType }}
issue_type = {{ . | toJson }}
{{- end }}
{{- with .Values.jira.pollInterval }}
poll_interval = {{ . | toJson }}
{{- end }}
{{- if .Values.http.enabled }}

[http]
listen_addr = ":8443"
public_addr = {{ .Values.http.publicAddress | toJson }}
https_key_file = {{ include "tplib.secretPath" (list . "tls/tls.key") | toJson }}
https_cert_file = {{ include "tplib.secretPath" (list . "tls/tls.crt") | toJson }}
{{- if .Values.http.basicAuth.user }}

[http.basic_auth]
user = {{ .Values.http.basicAuth.user | toJson }}
password = {{ include "tplib.secretPath" (list . "webhook_password") | toJson }}
{{- end }}
{{- end }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.jira.apiToken | quote }}
  fromSecret: {{ .Values.jira.apiTokenFromSecret | quote }}
  key: {{ .Values.jira.apiTokenSecretPath | quote }}
  file: jira_api_token
{{- if .Values.http.enabled }}
- volume: {{ .Values.tlsSecretVolumeName }}
  value: ""
  fromSecret: {{ include "jira.tlsSecretName" . | quote }}
  key: {{ .Values.http.tlsKeySecretPath | quote }}
  file: tls/tls.key
- volume: {{ printf "%s-crt" .Values.tlsSecretVolumeName }}
  value: ""
  fromSecret: {{ include "jira.tlsSecretName" . | quote }}
  key: {{ .Values.http.tlsCertSecretPath | quote }}
  file: tls/tls.crt
{{- if .Values.http.basicAuth.user }}
- volume: webhook-password
  value: {{ .Values.http.basicAuth.password | quote }}
  fromSecret: ""
  key: webhookPassword
  file: webhook_password
{{- end }}
{{- end }}
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- if .Values.http.enabled }}
- name: webhook
  containerPort: 8443
  servicePort: 443
{{- end }}
{{- end -}}

{{/* What makes this chart GitLab's: its TOML, its secret files, its webhook port. */}}

{{/* Checks the values (renders nothing); included first by every template. */}}
{{- define "gitlab.values" -}}
{{- if and (not .Values.http.enabled) (not .Values.gitlab.pollInterval) -}}
{{- fail "http.enabled is false and gitlab.pollInterval is empty: the plugin would never learn of decisions made in GitLab" -}}
{{- end -}}
{{- end -}}

{{- define "gitlab.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "tplib.fullname" .)) .Values.http.tlsFromSecret -}}
{{- end -}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}

[gitlab]
url = {{ .Values.gitlab.url | toJson }}
token = {{ include "tplib.secretPath" (list . "gitlab_token") | toJson }}
project_id = {{ .Values.gitlab.projectId | toString | toJson }}
{{- if .Values.http.enabled }}
webhook_secret = {{ include "tplib.secretPath" (list . "webhook_secret") | toJson }}
{{- end }}
{{- with .Values.gitlab.pollInterval }}
poll_interval = {{ . | toJson }}
{{- end }}
{{- with .Values.gitlab.minAccessLevel }}
min_access_level = {{ . | toJson }}
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
  value: {{ .Values.gitlab.token | quote }}
  fromSecret: {{ .Values.gitlab.tokenFromSecret | quote }}
  key: {{ .Values.gitlab.tokenSecretPath | quote }}
  file: gitlab_token
{{- if .Values.http.enabled }}
- volume: webhook-secret
  value: {{ .Values.gitlab.webhookSecret | quote }}
  fromSecret: {{ .Values.gitlab.webhookSecretFromSecret | quote }}
  key: {{ .Values.gitlab.webhookSecretSecretPath | quote }}
  file: webhook_secret
- volume: {{ .Values.tlsSecretVolumeName }}
  value: ""
  fromSecret: {{ include "gitlab.tlsSecretName" . | quote }}
  key: {{ .Values.http.tlsKeySecretPath | quote }}
  file: tls/tls.key
- volume: {{ printf "%s-crt" .Values.tlsSecretVolumeName }}
  value: ""
  fromSecret: {{ include "gitlab.tlsSecretName" . | quote }}
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

{{/*
What makes this chart the e-mail plugin's: its TOML, its secret files and its (no) ports.
Mailgun and SMTP are each rendered only when enabled; the plugin prefers SMTP when both are.
`delivery.recipients` is rendered as role_to_recipients."*" unless roleToRecipients has one.
*/}}

{{- define "teleport-plugin.toml" -}}
{{ include "tplib.toml.teleport" . }}
{{- if .Values.mailgun.enabled }}

[mailgun]
domain = {{ .Values.mailgun.domain | toJson }}
private_key_file = {{ include "tplib.secretPath" (list . "mailgun_private_key") | toJson }}
{{- end }}
{{- if .Values.smtp.enabled }}

[smtp]
host = {{ .Values.smtp.host | toJson }}
port = {{ .Values.smtp.port | int }}
username = {{ .Values.smtp.username | toJson }}
password_file = {{ include "tplib.secretPath" (list . "smtp_password") | toJson }}
starttls_policy = {{ .Values.smtp.starttlsPolicy | default "mandatory" | toJson }}
{{- end }}

[delivery]
sender = {{ .Values.delivery.sender | toJson }}
{{- with include "tplib.toml.recipients" (list .Values.roleToRecipients .Values.delivery.recipients) }}

{{ . }}
{{- end }}

{{ include "tplib.toml.log" . }}
{{- end -}}

{{- define "teleport-plugin.secrets" -}}
{{- if .Values.mailgun.enabled }}
- volume: mailgun-private-key
  value: {{ .Values.mailgun.privateKey | quote }}
  fromSecret: {{ .Values.mailgun.privateKeyFromSecret | quote }}
  key: {{ .Values.mailgun.privateKeySecretPath | quote }}
  file: mailgun_private_key
{{- end }}
{{- if .Values.smtp.enabled }}
- volume: {{ .Values.secretVolumeName }}
  value: {{ .Values.smtp.password | quote }}
  fromSecret: {{ .Values.smtp.passwordFromSecret | quote }}
  key: {{ .Values.smtp.passwordSecretPath | quote }}
  file: smtp_password
{{- end }}
{{- end -}}

{{- define "teleport-plugin.ports" -}}
{{- end -}}

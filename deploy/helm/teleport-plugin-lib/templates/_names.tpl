{{/*
Names, labels and the fixed paths every teleport-plugin-<name> chart shares.
The plugin's short name ("slack") is the chart name without its "teleport-plugin-" prefix,
so a plugin chart only has to be named right to get the Go charts' paths.
*/}}

{{- define "tplib.plugin" -}}
{{- trimPrefix "teleport-plugin-" .Chart.Name -}}
{{- end -}}

{{- define "tplib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tplib.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tplib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tplib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tplib.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tplib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: access-plugin
{{- end -}}

{{/* Where the plugin keeps its state and credentials, as in the Go images. */}}
{{- define "tplib.dataDir" -}}
/var/lib/teleport/plugins/{{ include "tplib.plugin" . }}
{{- end -}}

{{- define "tplib.configFile" -}}
teleport-{{ include "tplib.plugin" . }}.toml
{{- end -}}

{{- define "tplib.configPath" -}}
/etc/{{ include "tplib.configFile" . }}
{{- end -}}

{{/*
The identity is mounted as a directory (not a subPath) so that Kubernetes propagates a
rewritten Secret, and the plugin re-reads it (`refresh_identity`).
*/}}
{{- define "tplib.identityDir" -}}
{{ include "tplib.dataDir" . }}/teleport-identity
{{- end -}}

{{/* tbot's `identity` output writes a file named "identity" into its destination. */}}
{{- define "tplib.identityPath" -}}
{{- if .Values.tbot.enabled -}}
{{ include "tplib.identityDir" . }}/identity
{{- else -}}
{{ include "tplib.identityDir" . }}/{{ .Values.teleport.identitySecretPath }}
{{- end -}}
{{- end -}}

{{/*
The identity Secret. The Go charts leave it empty by default, which renders a Deployment the
API server rejects; here an empty name falls back to "<fullname>-identity" (see NOTES.txt).
*/}}
{{- define "tplib.identitySecretName" -}}
{{- default (printf "%s-identity" (include "tplib.fullname" .)) .Values.teleport.identitySecretName -}}
{{- end -}}

{{/* The Teleport address: the value, else the proxy tbot joins through. */}}
{{- define "tplib.teleportAddress" -}}
{{- if .Values.teleport.address -}}
{{- .Values.teleport.address -}}
{{- else if .Values.tbot.enabled -}}
{{- .Values.tbot.teleportProxyAddress -}}
{{- end -}}
{{- end -}}

{{- define "tplib.serviceAccountName" -}}
{{- if or .Values.serviceAccount.create .Values.tbot.enabled -}}
{{- default (include "tplib.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tplib.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Optional tbot sidecar (Machine ID): tbot joins the cluster (by default with the pod's
Kubernetes service account token), keeps short-lived certificates in memory and writes an
identity file into an emptyDir shared with the plugin. The plugin's TOML points at that file
with `refresh_identity = true`, so it picks up each renewal without a restart.
*/}}

{{- define "tplib.tbot.config" -}}
version: v2
{{- if .Values.tbot.teleportAuthAddress }}
auth_server: {{ .Values.tbot.teleportAuthAddress | quote }}
{{- else }}
proxy_server: {{ required "tbot.teleportProxyAddress (or tbot.teleportAuthAddress) is required when tbot.enabled is true" .Values.tbot.teleportProxyAddress | quote }}
{{- end }}
onboarding:
  join_method: {{ .Values.tbot.joinMethod | quote }}
  token: {{ .Values.tbot.token | default (include "tplib.fullname" .) | quote }}
storage:
  type: memory
credential_ttl: {{ .Values.tbot.credentialTTL | quote }}
renewal_interval: {{ .Values.tbot.renewalInterval | quote }}
outputs:
  - type: identity
    destination:
      type: directory
      path: {{ include "tplib.identityDir" . | quote }}
{{- end -}}

{{- define "tplib.tbot.configmap" -}}
{{- if .Values.tbot.enabled }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "tplib.fullname" . }}-tbot
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
data:
  tbot.yaml: |
    {{- include "tplib.tbot.config" . | nindent 4 }}
{{- end }}
{{- end -}}

{{- define "tplib.tbot.container" -}}
- name: tbot
  image: {{ printf "%s:%s" .Values.tbot.image.repository .Values.tbot.image.tag | quote }}
  imagePullPolicy: {{ .Values.tbot.image.pullPolicy }}
  args:
    - start
    - --config
    - /etc/tbot/tbot.yaml
    {{- with .Values.tbot.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    # Where tbot's kubernetes join method reads the projected service account token.
    - name: KUBERNETES_TOKEN_PATH
      value: /var/run/secrets/tokens/join-sa-token
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tbot.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tbot-config
      mountPath: /etc/tbot
      readOnly: true
    - name: teleport-identity
      mountPath: {{ include "tplib.identityDir" . }}
    - name: join-sa-token
      mountPath: /var/run/secrets/tokens
      readOnly: true
{{- end -}}

{{- define "tplib.tbot.volumes" -}}
- name: tbot-config
  configMap:
    name: {{ include "tplib.fullname" . }}-tbot
    defaultMode: 0600
- name: join-sa-token
  projected:
    sources:
      - serviceAccountToken:
          path: join-sa-token
          # The kubernetes join method expects the Teleport cluster name as the audience.
          audience: {{ required "tbot.clusterName is required when tbot.enabled is true" .Values.tbot.clusterName | quote }}
          expirationSeconds: 600
{{- end -}}

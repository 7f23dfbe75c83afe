{{/*
Ports, Service and Ingress. A plugin chart lists the ports its process serves in
"teleport-plugin.ports" (a YAML list of {name, containerPort}; a webhook port is named
"webhook"); the operations endpoint (health, readiness, metrics) adds a port named "ops"
when `ops.enabled`. The Service exists when there is any port; the Ingress only routes to
a webhook port, since the ops endpoint is for the cluster, not the internet.
*/}}

{{- define "tplib.ports" -}}
{{- $raw := include "teleport-plugin.ports" . | trim -}}
{{- $ports := list -}}
{{- if $raw -}}
{{- $ports = fromYamlArray $raw -}}
{{- end -}}
{{- if .Values.ops.enabled -}}
{{- $ports = append $ports (dict "name" "ops" "containerPort" (int .Values.ops.port)) -}}
{{- end -}}
{{- toYaml $ports -}}
{{- end -}}

{{- define "tplib.service" -}}
{{- $ports := include "tplib.ports" . | fromYamlArray -}}
{{- if and $ports .Values.service.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tplib.fullname" . }}
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
  {{- with .Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "tplib.selectorLabels" . | nindent 4 }}
  ports:
    {{- range $ports }}
    - name: {{ .name }}
      port: {{ .servicePort | default .containerPort }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end -}}

{{- define "tplib.ingress" -}}
{{- $ports := include "tplib.ports" . | fromYamlArray -}}
{{- $webhook := dict -}}
{{- range $ports -}}
{{- if eq .name "webhook" -}}
{{- $webhook = . -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not $webhook) -}}
{{- fail "ingress.enabled is set, but this plugin serves no webhook" -}}
{{- end -}}
{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "tplib.fullname" . }}
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
  {{- with .Values.ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with .Values.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with .Values.ingress.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- range .Values.ingress.hosts }}
    - host: {{ . | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "tplib.fullname" $ }}
                port:
                  name: webhook
    {{- end }}
{{- end }}
{{- end -}}

{{- define "tplib.serviceAccount" -}}
{{- if or .Values.serviceAccount.create .Values.tbot.enabled }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "tplib.serviceAccountName" . }}
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}

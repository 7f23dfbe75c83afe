{{/*
The plugin Deployment. `replicaCount` replicas (default 1, as with the Go charts): every
replica watches every request, and a lease in Teleport plugin data makes one of them act on
each, so a second replica is a hot standby that takes over within the lease (30 s). Above one
replica the pods prefer different nodes unless `affinity` says otherwise, and a
PodDisruptionBudget (_pdb.tpl) keeps one running through voluntary disruptions.
Mount points are the Go charts' ones: the TOML at /etc/teleport-<plugin>.toml (subPath), the
identity directory and the secret files under /var/lib/teleport/plugins/<plugin>/.
*/}}
{{- define "tplib.deployment" -}}
{{- $plugin := include "tplib.plugin" . -}}
{{- $slots := include "tplib.secretSlots" . | fromYamlArray -}}
{{- $ports := include "tplib.ports" . | fromYamlArray -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tplib.fullname" . }}
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
  {{- with .Values.annotations.deployment }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "tplib.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        # Roll the pod when the rendered TOML changes.
        checksum/config: {{ include "tplib.configmap" . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .Values.annotations.pod }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "tplib.selectorLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "tplib.serviceAccountName" . }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $plugin }}
          image: {{ include "tplib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command:
            - /usr/local/bin/teleport-plugin
            - start
            - --config
            - {{ include "tplib.configPath" . }}
          env:
            # Exit when the Teleport connection breaks; Kubernetes restarts the pod (as Teleport's charts do).
            - name: TELEPORT_PLUGIN_FAIL_FAST
              value: {{ .Values.failFast | toString | quote }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $ports }}
          ports:
            {{- range . }}
            - name: {{ .name }}
              containerPort: {{ .containerPort }}
              protocol: TCP
            {{- end }}
          {{- end }}
          {{- if .Values.ops.enabled }}
          startupProbe:
            httpGet:
              path: /healthz
              port: ops
            periodSeconds: 2
            # Start-up waits up to 30 s for Teleport and 30 s for the service's health check.
            failureThreshold: 45
          livenessProbe:
            httpGet:
              path: /healthz
              port: ops
            periodSeconds: 10
            failureThreshold: 6
          readinessProbe:
            httpGet:
              path: /readyz
              port: ops
            periodSeconds: 5
          {{- end }}
          {{- with .Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: config
              mountPath: {{ include "tplib.configPath" . }}
              subPath: {{ include "tplib.configFile" . }}
            - name: teleport-identity
              mountPath: {{ include "tplib.identityDir" . }}
              readOnly: true
            {{- range $slots }}
            - name: {{ .volume }}
              mountPath: {{ .path }}
              subPath: {{ .file }}
            {{- end }}
            {{- with .Values.volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
        {{- if .Values.tbot.enabled }}
        {{- include "tplib.tbot.container" . | nindent 8 }}
        {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "tplib.fullname" . }}
            defaultMode: 0600
        - name: teleport-identity
          {{- if .Values.tbot.enabled }}
          emptyDir:
            medium: Memory
            sizeLimit: 1Mi
          {{- else }}
          secret:
            secretName: {{ include "tplib.identitySecretName" . }}
            defaultMode: 0600
          {{- end }}
        {{- range $slots }}
        - name: {{ .volume }}
          secret:
            secretName: {{ .secretName }}
            defaultMode: 0600
            items:
              - key: {{ .key }}
                path: {{ .file }}
        {{- end }}
        {{- if .Values.tbot.enabled }}
        {{- include "tplib.tbot.volumes" . | nindent 8 }}
        {{- end }}
        {{- with .Values.volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .Values.affinity }}
      affinity:
        {{- toYaml .Values.affinity | nindent 8 }}
      {{- else if gt (int .Values.replicaCount) 1 }}
      # Replicas on different nodes where possible: one node going down stops one of them.
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "tplib.selectorLabels" . | nindent 20 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

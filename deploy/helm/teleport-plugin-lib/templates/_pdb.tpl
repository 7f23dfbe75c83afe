{{/*
A PodDisruptionBudget when more than one replica runs: voluntary disruptions (node drains,
cluster upgrades) keep at least `podDisruptionBudget.minAvailable` replicas, so a request is
never left without a replica to handle it. One replica gets none: a budget of one on one pod
would block every drain.
*/}}
{{- define "tplib.pdb" -}}
{{- if and .Values.podDisruptionBudget.enabled (gt (int .Values.replicaCount) 1) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "tplib.fullname" . }}
  labels:
    {{- include "tplib.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "tplib.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

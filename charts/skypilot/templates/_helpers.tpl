{{- define "skypilot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "skypilot.serviceAccountName" -}}
{{- default (printf "%s-api-sa" (include "skypilot.fullname" .)) .Values.rbac.serviceAccountName -}}
{{- end -}}

{{- define "skypilot.roleNamespace" -}}
{{- default .Release.Namespace .Values.kubernetesCredentials.inclusterNamespace -}}
{{- end -}}

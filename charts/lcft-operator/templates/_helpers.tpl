{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "lcft-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name, prefixed to the chart name unless it contains it.
*/}}
{{- define "lcft-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lcft-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. Not app.kubernetes.io/managed-by=lcft-operator: that value
marks the objects the operator itself creates (Jobs, ConfigMaps).
*/}}
{{- define "lcft-operator.labels" -}}
helm.sh/chart: {{ include "lcft-operator.chart" . }}
{{ include "lcft-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lcft-operator
{{- end }}

{{- define "lcft-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lcft-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "lcft-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lcft-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lcft-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The trainer image: trainer.image, or the trainer next to the manager image's tag.
*/}}
{{- define "lcft-operator.trainerImage" -}}
{{- if .Values.trainer.image }}
{{- .Values.trainer.image }}
{{- else }}
{{- printf "ghcr.io/lcft-dev/lcft-trainer:%s" (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "lcft-operator.trainerConfigName" -}}
{{- printf "%s-trainer" (include "lcft-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Whether the trainer ConfigMap (default pod template, default resources) is rendered.
*/}}
{{- define "lcft-operator.trainerConfig" -}}
{{- if or .Values.trainer.podTemplate .Values.trainer.resources }}true{{- end }}
{{- end }}

{{- define "lcft-operator.poolMapName" -}}
{{- printf "%s-pool-map" (include "lcft-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Whether the metrics certificate Secret is mounted (secure metrics with certSecret).
*/}}
{{- define "lcft-operator.metricsCert" -}}
{{- if and .Values.metrics.enabled .Values.metrics.secure .Values.metrics.certSecret }}true{{- end }}
{{- end }}

{{/*
The ServiceMonitor's tlsConfig: verified against tlsConfig.ca or the ca.crt
of metrics.certSecret, for tlsConfig.serverName or the metrics Service's
DNS name; insecureSkipVerify only when set explicitly.
*/}}
{{- define "lcft-operator.serviceMonitorTLS" -}}
{{- $tls := .Values.serviceMonitor.tlsConfig }}
{{- if $tls.insecureSkipVerify }}
insecureSkipVerify: true
{{- else }}
{{- $ca := $tls.ca }}
{{- if and (not $ca) .Values.metrics.certSecret }}
{{- $ca = dict "secret" (dict "name" .Values.metrics.certSecret "key" "ca.crt") }}
{{- end }}
{{- if not $ca }}
{{- fail "serviceMonitor verifies the metrics certificate: set metrics.certSecret (a TLS Secret with ca.crt, e.g. from cert-manager) or serviceMonitor.tlsConfig.ca, or set serviceMonitor.tlsConfig.insecureSkipVerify=true explicitly" }}
{{- end }}
ca:
  {{- toYaml $ca | nindent 2 }}
serverName: {{ default (printf "%s-metrics.%s.svc" (include "lcft-operator.fullname" .) .Release.Namespace) $tls.serverName }}
insecureSkipVerify: false
{{- end }}
{{- end }}

{{/*
Cross-value checks that values.schema.json cannot express.
*/}}
{{- define "lcft-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: replicas without leader election reconcile the same objects at once" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled=true" }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.healthProbe.port)) }}
{{- fail "metrics.port and healthProbe.port must differ" }}
{{- end }}
{{- end }}

{{/*
GOMEMLIMIT of the manager in bytes: tuning.goMemLimitPercent of
resources.limits.memory (an integer with an optional suffix: Ki, Mi, Gi, Ti,
k, M, G, T); empty when either is unset or 0, or when extraEnv sets
GOMEMLIMIT itself. The Go runtime reads it at start and collects garbage
harder as its memory nears it, instead of growing into the container's
limit.
*/}}
{{- define "lcft-operator.goMemLimit" -}}
{{- $pct := int64 (default 0 .Values.tuning.goMemLimitPercent) }}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) }}
{{- $own := false }}
{{- range .Values.extraEnv }}{{ if eq .name "GOMEMLIMIT" }}{{ $own = true }}{{ end }}{{ end }}
{{- if and (gt $pct 0) $limit (not $own) }}
{{- $q := kindIs "float64" $limit | ternary (int64 $limit | toString) (toString $limit) }}
{{- $m := regexFindAll "^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q 1 }}
{{- if not $m }}
{{- fail (printf "resources.limits.memory %q: with tuning.goMemLimitPercent, write it as an integer with an optional suffix Ki, Mi, Gi, Ti, k, M, G or T" $q) }}
{{- end }}
{{- $digits := regexFind "^[0-9]+" $q }}
{{- $unit := trimPrefix $digits $q }}
{{- $mult := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) $unit }}
{{- mul (div (mul (int64 $digits) (int64 $mult)) 100) $pct }}
{{- end }}
{{- end }}

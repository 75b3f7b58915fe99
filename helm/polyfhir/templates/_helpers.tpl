{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "polyfhir.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; components append "-<component>" (kept within 63 characters). */}}
{{- define "polyfhir.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "polyfhir.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Numbers from values are float64 in Helm: `| int64` before `quote`, or 1048576 renders
   as "1.048576e+06", which no setting parses. */}}

{{/* The services of the chart: component name -> key of its values. */}}
{{- define "polyfhir.components" -}}
gateway: gateway
primary-store: primaryStore
search-indexer: searchIndexer
graph-indexer: graphIndexer
terminology-indexer: terminologyIndexer
{{- end }}

{{- define "polyfhir.labels" -}}
helm.sh/chart: {{ include "polyfhir.chart" . }}
app.kubernetes.io/name: {{ include "polyfhir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: polyfhir
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "polyfhir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "polyfhir.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "polyfhir.componentLabels" -}}
{{ include "polyfhir.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "polyfhir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "polyfhir.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference of one component: (dict "root" $ "values" <component values>). */}}
{{- define "polyfhir.image" -}}
{{- $registry := .root.Values.image.registry -}}
{{- $tag := .values.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if $registry }}
{{- printf "%s/%s:%s" $registry .values.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* PostgreSQL DSN without the password (it comes from PGPASSWORD). */}}
{{- define "polyfhir.postgresqlUrl" -}}
{{- with .Values.postgresql -}}
postgresql://{{ .user }}@{{ .host }}:{{ .port }}/{{ .database }}?sslmode={{ .sslmode }}
{{- if .caSecret.name }}&sslrootcert=/etc/polyfhir/tls/postgresql/{{ .caSecret.key }}{{ end }}
{{- end }}
{{- end }}

{{/* The composite configuration: backends from postgresql/search/graph/terminology and the enabled
     services, a full-text route only when the search-indexer runs; policy from compositeConfig. */}}
{{- define "polyfhir.compositeConfig" -}}
{{- $fullname := include "polyfhir.fullname" . -}}
{{- $policy := omit (deepCopy .Values.compositeConfig) "extraBackends" "routing" -}}
{{- if and (not .Values.searchIndexer.enabled) (eq (dig "sync" "mode" "kind" "" $policy | toString) "hybrid") }}
{{- /* hybrid waits for the search index: without a search-indexer writes are asynchronous */}}
{{- $_ := set $policy.sync "mode" (dict "kind" "asynchronous") }}
{{- end }}
{{- $backends := list (dict "id" "primary" "role" "primary" "kind" "postgresql" "url" (include "polyfhir.postgresqlUrl" .)) -}}
{{- $routing := list -}}
{{- if .Values.searchIndexer.enabled }}
{{- $serviceUrl := printf "http://%s-search-indexer:%v" $fullname .Values.searchIndexer.service.port }}
{{- $backends = append $backends (dict "id" "search" "role" "search" "kind" .Values.search.kind "url" .Values.search.url "options" (dict "service_url" $serviceUrl)) }}
{{- $routing = append $routing (dict "name" "full-text" "match" (dict "features" (list "full_text")) "target" "search" "fallback" "primary") }}
{{- end }}
{{- if .Values.graphIndexer.enabled }}
{{- $serviceUrl := printf "http://%s-graph-indexer:%v" $fullname .Values.graphIndexer.service.port }}
{{- $backends = append $backends (dict "id" "graph" "role" "graph" "kind" .Values.graph.kind "url" .Values.graph.url "options" (dict "service_url" $serviceUrl)) }}
{{- end }}
{{- if .Values.terminologyIndexer.enabled }}
{{- $serviceUrl := printf "http://%s-terminology-indexer:%v" $fullname .Values.terminologyIndexer.service.port }}
{{- $backends = append $backends (dict "id" "terminology" "role" "terminology" "kind" "postgresql" "url" (include "polyfhir.postgresqlUrl" .) "options" (dict "service_url" $serviceUrl)) }}
{{- end }}
{{- $backends = concat $backends (.Values.compositeConfig.extraBackends | default list) }}
{{- $routing = concat $routing (.Values.compositeConfig.routing | default list) }}
{{- $config := merge (dict "backends" $backends) $policy }}
{{- if $routing }}
{{- $_ := set $config "routing" $routing }}
{{- end }}
{{- tpl (toYaml $config) . }}
{{- end }}

{{/* The primary's PostgreSQL connection: the primary-store and the migrate Job. */}}
{{- define "polyfhir.env.postgresql" -}}
- name: POLYFHIR_PRIMARY_URL
  value: {{ include "polyfhir.postgresqlUrl" . | quote }}
{{- with .Values.postgresql.passwordSecret }}
{{- if .name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .name | quote }}, key: {{ .key | quote }}}
{{- end }}
{{- end }}
{{- end }}

{{/* Which TLS material a component mounts: (dict "root" $ "component" "primary-store"). */}}
{{- define "polyfhir.tlsNeeds" -}}
postgresql: {{ and (has .component (list "primary-store" "migrate" "terminology-indexer")) (ne .root.Values.postgresql.caSecret.name "") }}
kafkaCa: {{ and (has .component (list "primary-store" "search-indexer" "graph-indexer" "terminology-indexer")) (ne .root.Values.kafka.security.tls.caSecret.name "") }}
kafkaClient: {{ and (has .component (list "primary-store" "search-indexer" "graph-indexer" "terminology-indexer")) (ne .root.Values.kafka.security.tls.clientCertSecret.name "") }}
{{- end }}

{{/* CA and client certificates mounted read-only from Secrets under /etc/polyfhir/tls. */}}
{{- define "polyfhir.tlsMounts" -}}
{{- $needs := include "polyfhir.tlsNeeds" . | fromYaml }}
{{- if $needs.postgresql }}
- {name: postgresql-ca, mountPath: /etc/polyfhir/tls/postgresql, readOnly: true}
{{- end }}
{{- if $needs.kafkaCa }}
- {name: kafka-ca, mountPath: /etc/polyfhir/tls/kafka-ca, readOnly: true}
{{- end }}
{{- if $needs.kafkaClient }}
- {name: kafka-client, mountPath: /etc/polyfhir/tls/kafka-client, readOnly: true}
{{- end }}
{{- end }}

{{- define "polyfhir.tlsVolumes" -}}
{{- $needs := include "polyfhir.tlsNeeds" . | fromYaml }}
{{- if $needs.postgresql }}
- name: postgresql-ca
  secret: {secretName: {{ .root.Values.postgresql.caSecret.name | quote }}}
{{- end }}
{{- if $needs.kafkaCa }}
- name: kafka-ca
  secret: {secretName: {{ .root.Values.kafka.security.tls.caSecret.name | quote }}}
{{- end }}
{{- if $needs.kafkaClient }}
- name: kafka-client
  secret: {secretName: {{ .root.Values.kafka.security.tls.clientCertSecret.name | quote }}}
{{- end }}
{{- end }}

{{/* Kafka security of every Kafka client (relay, indexers): protocol, SASL from a Secret,
     CA and client certificate files from mounted Secrets. */}}
{{- define "polyfhir.env.kafkaSecurity" -}}
{{- with .Values.kafka.security }}
- name: POLYFHIR_KAFKA_SECURITY_PROTOCOL
  value: {{ .protocol | quote }}
{{- if hasPrefix "SASL_" .protocol }}
- name: POLYFHIR_KAFKA_SASL_MECHANISM
  value: {{ required "kafka.security.saslMechanism is required with a SASL_* protocol" .saslMechanism | quote }}
- name: POLYFHIR_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ required "kafka.security.credentialsSecret.name is required with a SASL_* protocol" .credentialsSecret.name | quote }}, key: {{ .credentialsSecret.usernameKey | quote }}}
- name: POLYFHIR_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .credentialsSecret.name | quote }}, key: {{ .credentialsSecret.passwordKey | quote }}}
{{- end }}
{{- if .tls.caSecret.name }}
- name: POLYFHIR_KAFKA_SSL_CA_FILE
  value: {{ printf "/etc/polyfhir/tls/kafka-ca/%s" .tls.caSecret.key | quote }}
{{- end }}
{{- if .tls.clientCertSecret.name }}
- name: POLYFHIR_KAFKA_SSL_CERT_FILE
  value: {{ printf "/etc/polyfhir/tls/kafka-client/%s" .tls.clientCertSecret.certKey | quote }}
- name: POLYFHIR_KAFKA_SSL_KEY_FILE
  value: {{ printf "/etc/polyfhir/tls/kafka-client/%s" .tls.clientCertSecret.keyKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment of the primary-store. */}}
{{- define "polyfhir.env.primary-store" -}}
{{ include "polyfhir.env.postgresql" . }}
- name: POLYFHIR_PG_POOL_MIN
  value: {{ .Values.primaryStore.pgPoolMin | int64 | quote }}
- name: POLYFHIR_PG_POOL_MAX
  value: {{ .Values.primaryStore.pgPoolMax | int64 | quote }}
{{- if .Values.primaryStore.relay.enabled }}
- name: POLYFHIR_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: POLYFHIR_KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | int64 | quote }}
- name: POLYFHIR_KAFKA_MAX_MESSAGE_BYTES
  value: {{ .Values.kafka.maxMessageBytes | int64 | quote }}
{{- include "polyfhir.env.kafkaSecurity" . | nindent 0 }}
- name: POLYFHIR_RELAY_BATCH_SIZE
  value: {{ .Values.primaryStore.relay.batchSize | int64 | quote }}
- name: POLYFHIR_RELAY_POLL_MS
  value: {{ .Values.primaryStore.relay.pollMs | int64 | quote }}
- name: POLYFHIR_OUTBOX_RETENTION_HOURS
  value: {{ .Values.primaryStore.relay.retentionHours | quote }}
{{- end }}
{{- end }}

{{/* Environment of the search-indexer. */}}
{{- define "polyfhir.env.search-indexer" -}}
- name: POLYFHIR_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: POLYFHIR_KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | int64 | quote }}
{{- include "polyfhir.env.kafkaSecurity" . | nindent 0 }}
{{- /* claim checks: the body of an event too large for Kafka is read from the primary */}}
- name: POLYFHIR_PRIMARY_STORE_URL
  value: {{ printf "http://%s-primary-store:%v" (include "polyfhir.fullname" .) .Values.primaryStore.service.port | quote }}
- name: POLYFHIR_SEARCH_ENGINE_KIND
  value: {{ .Values.search.kind | quote }}
{{- if .Values.search.urlSecret.name }}
- name: POLYFHIR_SEARCH_ENGINE_URL
  valueFrom:
    secretKeyRef: {name: {{ .Values.search.urlSecret.name | quote }}, key: {{ .Values.search.urlSecret.key | quote }}}
{{- else }}
- name: POLYFHIR_SEARCH_ENGINE_URL
  value: {{ .Values.search.url | quote }}
{{- end }}
- name: POLYFHIR_SEARCH_COMPATIBILITY_HEADERS
  value: {{ .Values.search.compatibilityHeaders | quote }}
- name: POLYFHIR_SEARCH_INDEX_PREFIX
  value: {{ .Values.search.indexPrefix | quote }}
- name: POLYFHIR_CONSUMER_GROUP
  value: {{ .Values.searchIndexer.consumerGroup | quote }}
- name: POLYFHIR_BATCH_SIZE
  value: {{ .Values.searchIndexer.batchSize | int64 | quote }}
- name: POLYFHIR_BATCH_MAX_WAIT_MS
  value: {{ .Values.searchIndexer.batchMaxWaitMs | int64 | quote }}
{{- end }}

{{/* Environment of the graph-indexer. */}}
{{- define "polyfhir.env.graph-indexer" -}}
- name: POLYFHIR_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: POLYFHIR_KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | int64 | quote }}
{{- include "polyfhir.env.kafkaSecurity" . | nindent 0 }}
- name: POLYFHIR_GRAPH_ENGINE_KIND
  value: {{ .Values.graph.kind | quote }}
- name: POLYFHIR_GRAPH_ENGINE_URL
  value: {{ .Values.graph.url | quote }}
- name: POLYFHIR_GRAPH_NAME
  value: {{ .Values.graph.graphName | quote }}
- name: POLYFHIR_NEO4J_USER
  value: {{ .Values.graph.user | quote }}
{{- if .Values.graph.passwordSecret.name }}
- name: POLYFHIR_NEO4J_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.graph.passwordSecret.name | quote }}, key: {{ .Values.graph.passwordSecret.key | quote }}}
{{- end }}
{{- if .Values.graph.database }}
- name: POLYFHIR_NEO4J_DATABASE
  value: {{ .Values.graph.database | quote }}
{{- end }}
- name: POLYFHIR_CONSUMER_GROUP
  value: {{ .Values.graphIndexer.consumerGroup | quote }}
- name: POLYFHIR_BATCH_SIZE
  value: {{ .Values.graphIndexer.batchSize | int64 | quote }}
- name: POLYFHIR_BATCH_MAX_WAIT_MS
  value: {{ .Values.graphIndexer.batchMaxWaitMs | int64 | quote }}
{{- end }}

{{/* The public FHIR base: gateway.publicBaseUrl, else the first Ingress host (https when a
     tls entry names it) + /fhir; empty without either (derived from each request). */}}
{{- define "polyfhir.publicBaseUrl" -}}
{{- with .Values.gateway }}
{{- if .publicBaseUrl }}
{{- .publicBaseUrl | trimSuffix "/" }}
{{- else if and .ingress.enabled .ingress.hosts }}
{{- $host := (index .ingress.hosts 0).host }}
{{- $scheme := "http" }}
{{- range .ingress.tls }}
{{- if has $host (.hosts | default list) }}{{ $scheme = "https" }}{{ end }}
{{- end }}
{{- printf "%s://%s/fhir" $scheme $host }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment of the terminology-indexer: its tables in a schema of the primary's database. */}}
{{- define "polyfhir.env.terminology-indexer" -}}
- name: POLYFHIR_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: POLYFHIR_KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
{{- /* claim checks: a CodeSystem too large for Kafka is read from the primary */}}
- name: POLYFHIR_PRIMARY_STORE_URL
  value: {{ printf "http://%s-primary-store:%v" (include "polyfhir.fullname" .) .Values.primaryStore.service.port | quote }}
{{- include "polyfhir.env.kafkaSecurity" . | nindent 0 }}
- name: POLYFHIR_TERMINOLOGY_URL
  value: {{ include "polyfhir.postgresqlUrl" . | quote }}
{{- with .Values.postgresql.passwordSecret }}
{{- if .name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .name | quote }}, key: {{ .key | quote }}}
{{- end }}
{{- end }}
- name: POLYFHIR_TERMINOLOGY_SCHEMA
  value: {{ .Values.terminologyIndexer.schema | quote }}
- name: POLYFHIR_TERMINOLOGY_MAX_EXPANSION
  value: {{ .Values.terminologyIndexer.maxExpansion | quote }}
- name: POLYFHIR_CONSUMER_GROUP
  value: {{ .Values.terminologyIndexer.consumerGroup | quote }}
- name: POLYFHIR_BATCH_SIZE
  value: {{ .Values.terminologyIndexer.batchSize | quote }}
- name: POLYFHIR_BATCH_MAX_WAIT_MS
  value: {{ .Values.terminologyIndexer.batchMaxWaitMs | quote }}
{{- end }}

{{/* Environment of the gateway. */}}
{{- define "polyfhir.env.gateway" -}}
{{- $base := include "polyfhir.publicBaseUrl" . }}
{{- if and $base (not (hasKey .Values.gateway.env "POLYFHIR_BASE_URL")) }}
- name: POLYFHIR_BASE_URL
  value: {{ $base | quote }}
{{- end }}
{{- with .Values.gateway.forwardedAllowIps }}
- name: POLYFHIR_FORWARDED_ALLOW_IPS
  value: {{ . | quote }}
{{- end }}
- name: POLYFHIR_PRIMARY_STORE_URL
  value: {{ printf "http://%s-primary-store:%v" (include "polyfhir.fullname" .) .Values.primaryStore.service.port | quote }}
- name: POLYFHIR_CONFIG_FILE
  value: /etc/polyfhir/config.yaml
{{- with .Values.gateway.auth }}
- name: POLYFHIR_AUTH
  value: {{ .mode | quote }}
- name: POLYFHIR_AUTH_TENANT_CLAIM
  value: {{ .tenantClaim | quote }}
- name: POLYFHIR_AUTH_ADMIN_SCOPE
  value: {{ .adminScope | quote }}
{{- if eq .mode "jwks" }}
- name: POLYFHIR_AUTH_ISSUER
  value: {{ required "gateway.auth.issuer is required with auth.mode=jwks" .issuer | quote }}
- name: POLYFHIR_AUTH_AUDIENCE
  value: {{ required "gateway.auth.audience is required with auth.mode=jwks" .audience | quote }}
- name: POLYFHIR_AUTH_JWKS_URL
  value: {{ required "gateway.auth.jwksUrl is required with auth.mode=jwks" .jwksUrl | quote }}
{{- else }}
- name: POLYFHIR_AUTH_DEV_DIR
  value: /tmp/dev-issuer
{{- end }}
{{- with .authorizeUrl }}
- name: POLYFHIR_AUTH_AUTHORIZE_URL
  value: {{ . | quote }}
{{- end }}
{{- with .tokenUrl }}
- name: POLYFHIR_AUTH_TOKEN_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with .Values.gateway.tenantLimits }}
- name: POLYFHIR_TENANT_LIMITS
  value: {{ toJson . | quote }}
{{- end }}
- name: POLYFHIR_BULK_STORAGE
  value: {{ .Values.bulk.storage | quote }}
- name: POLYFHIR_BULK_OUTPUT_DIR
  value: /tmp/polyfhir-bulk
{{- if eq .Values.bulk.storage "s3" }}
{{- with .Values.bulk.s3 }}
- name: POLYFHIR_BULK_S3_BUCKET
  value: {{ .bucket | quote }}
- name: POLYFHIR_BULK_S3_REGION
  value: {{ .region | quote }}
- name: POLYFHIR_BULK_S3_PREFIX
  value: {{ .prefix | quote }}
{{- if .endpointUrl }}
- name: POLYFHIR_BULK_S3_ENDPOINT_URL
  value: {{ .endpointUrl | quote }}
{{- end }}
{{- if .presignSeconds }}
- name: POLYFHIR_BULK_S3_PRESIGN_S
  value: {{ .presignSeconds | int64 | quote }}
{{- end }}
{{- if .credentialsSecret.name }}
- name: POLYFHIR_BULK_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .credentialsSecret.name | quote }}
      key: {{ .credentialsSecret.accessKeyIdKey | quote }}
- name: POLYFHIR_BULK_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .credentialsSecret.name | quote }}
      key: {{ .credentialsSecret.secretAccessKeyKey | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

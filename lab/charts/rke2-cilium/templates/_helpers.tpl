{{/*
Peers as a list of {name, port, ips, address}, whether clustermesh.config.clusters is the list form
(all versions) or the map form keyed by name (Cilium 1.19+). Map entries with `enabled: false` are skipped.
*/}}
{{- define "rke2-cilium.peers" -}}
{{- $out := list -}}
{{- $clusters := .Values.clustermesh.config.clusters -}}
{{- if kindIs "map" $clusters -}}
{{- range $name := keys $clusters | sortAlpha -}}
{{- $c := index $clusters $name | default dict -}}
{{- if ne (toString (index $c "enabled")) "false" -}}
{{- $out = append $out (merge (dict "name" $name) (omit $c "enabled")) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- range $c := $clusters -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The etcd client configuration of one peer, in the shape of Cilium's clustermesh-config template:
the endpoint is https://<name>.<domain>:<port> when ips are given (hostAliases resolve the name),
else https://<address>:<port>; certificate paths point into /var/lib/cilium/clustermesh.
*/}}
{{- define "rke2-cilium.etcd-config" -}}
{{- $peer := index . 0 -}}
{{- $domain := index . 1 -}}
endpoints:
{{- if $peer.ips }}
- https://{{ $peer.name }}.{{ $domain }}:{{ $peer.port }}
{{- else }}
- https://{{ required (printf "clustermesh.config.clusters[%s]: address or ips required" $peer.name) $peer.address }}:{{ $peer.port }}
{{- end }}
trusted-ca-file: /var/lib/cilium/clustermesh/common-etcd-client-ca.crt
key-file: /var/lib/cilium/clustermesh/common-etcd-client.key
cert-file: /var/lib/cilium/clustermesh/common-etcd-client.crt
{{- end -}}

{{/* hostAliases <ip> -> <name>.<domain> for peers given by ips. */}}
{{- define "rke2-cilium.hostAliases" -}}
{{- $domain := .Values.clustermesh.config.domain -}}
{{- range $peer := include "rke2-cilium.peers" . | fromJsonArray }}
{{- range $ip := $peer.ips }}
- ip: {{ $ip | quote }}
  hostnames:
  - {{ printf "%s.%s" $peer.name $domain | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Whether this cluster serves its clustermesh endpoint. */}}
{{- define "rke2-cilium.apiserver" -}}
{{- if .Values.clustermesh.useAPIServer }}true{{ end -}}
{{- end -}}

{{/*
The CA (cert and key, base64 PEM) used for the clustermesh certificates: tls.ca from values, else
the existing cilium-ca Secret (lookup, empty under `helm template`), else a new one. A new CA at every
render without a cluster to look up is exactly the real chart's GitOps drift with method helm.
*/}}
{{- define "rke2-cilium.ca" -}}
{{- if not (hasKey . "labCA") -}}
{{- $_ := set . "labCA" (include "rke2-cilium.ca.compute" . | fromJson) -}}
{{- end -}}
{{- toJson .labCA -}}
{{- end -}}

{{- define "rke2-cilium.ca.compute" -}}
{{- if and .Values.tls.ca.cert .Values.tls.ca.key -}}
{{- dict "cert" .Values.tls.ca.cert "key" .Values.tls.ca.key | toJson -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace "cilium-ca" -}}
{{- if and $existing (index ($existing.data | default dict) "ca.crt") -}}
{{- dict "cert" (index $existing.data "ca.crt") "key" (index $existing.data "ca.key") | toJson -}}
{{- else -}}
{{- $ca := genCA "Cilium CA" (int .Values.tls.ca.certValidityDuration) -}}
{{- dict "cert" ($ca.Cert | b64enc) "key" ($ca.Key | b64enc) | toJson -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
One clustermesh-apiserver certificate as {crt, key} (base64 PEM): from values when
clustermesh.apiserver.tls.auto.enabled is false (provided certs), else signed here by the CA
(method helm). Args: root context, role (server|admin|remote), CN, dns names, ip addresses.
*/}}
{{- define "rke2-cilium.cert" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $tls := $root.Values.clustermesh.apiserver.tls -}}
{{- if not $tls.auto.enabled -}}
{{- $given := index $tls $role | default dict -}}
{{- dict "crt" (required (printf "clustermesh.apiserver.tls.%s.cert is required when tls.auto.enabled is false" $role) $given.cert) "key" (required (printf "clustermesh.apiserver.tls.%s.key is required when tls.auto.enabled is false" $role) $given.key) | toJson -}}
{{- else if eq $tls.auto.method "helm" -}}
{{- $ca := include "rke2-cilium.ca" $root | fromJson -}}
{{- $caObj := buildCustomCert $ca.cert $ca.key -}}
{{- $c := genSignedCert (index . 2) (index . 4) (index . 3) (int $tls.auto.certValidityDuration) $caObj -}}
{{- dict "crt" ($c.Cert | b64enc) "key" ($c.Key | b64enc) | toJson -}}
{{- else -}}
{{- fail (printf "lab stand-in: clustermesh.apiserver.tls.auto.method %q is not modelled (use helm or provided certs)" $tls.auto.method) -}}
{{- end -}}
{{- end -}}

{{/* CN of the remote client certificate: remote-<name> in authMode cluster, remote otherwise. */}}
{{- define "rke2-cilium.remoteCN" -}}
{{- if eq .Values.clustermesh.apiserver.tls.authMode "cluster" -}}remote-{{ .Values.cluster.name }}{{- else -}}remote{{- end -}}
{{- end -}}

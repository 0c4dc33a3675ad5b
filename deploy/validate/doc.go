// Package validate checks onsale's deployment files without a cluster, a Docker daemon or the network:
//
//   - rendered Kubernetes manifests are decoded strictly into the typed API structs (k8s.io/api and the
//     Prometheus Operator's monitoring/v1), so a misspelt field, a wrong type or a duplicated key fails, and
//     then checked for how the objects refer to each other and for onsale's own deployment policy;
//   - the compose file is loaded by the Compose Specification loader (which validates it against the spec's
//     JSON schema) and its images, build files and mounts are checked;
//   - the metric names used by the Grafana dashboards and the Prometheus rules are parsed out of their PromQL
//     and compared with the project's metric list, and optionally with a real /metrics scrape;
//   - a built binary is checked to be static, as the distroless image needs.
package validate

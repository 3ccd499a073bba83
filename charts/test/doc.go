// Package charttest tests the Helm chart in charts/lcft-operator with the
// helm binary named by $HELM (make test sets it): helm lint, helm template
// (the rendered objects decoded strictly into their Kubernetes types), the
// values schema, the chart's copies of the generated CRDs and RBAC rules, and
// a real helm install into an envtest API server ($KUBEBUILDER_ASSETS).
//
// Without $HELM the helm tests fail, and without $KUBEBUILDER_ASSETS the
// install test fails, naming what is missing and the make target that
// provides it (internal/testassets); under `go test -short` they skip. The
// copy checks need neither.
package charttest

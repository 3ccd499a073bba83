// Package charttest tests the Helm chart in charts/lcft-operator with the
// helm binary named by $HELM (make test sets it): helm lint, helm template
// (the rendered objects decoded strictly into their Kubernetes types), the
// values schema, the chart's copies of the generated CRDs and RBAC rules, and
// a real helm install into an envtest API server ($KUBEBUILDER_ASSETS).
//
// Without $HELM the helm tests skip; without $KUBEBUILDER_ASSETS the install
// test skips. The copy checks need neither.
package charttest

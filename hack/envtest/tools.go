//go:build tools

// Package tools pins the envtest control-plane binaries (kube-apiserver and
// etcd) as dependencies of this wrapper module, so that they can be built
// from the Go module proxy with `go build` by hack/envtest-assets.sh.
//
// This module is deliberately separate from the operator's go.mod: building
// k8s.io/kubernetes as a library requires replacing all of its staging
// modules (required at v0.0.0) with their released v0.X.Y counterparts.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)

//go:build tools

// Package tools pins the local cluster's components (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet) as dependencies of this
// wrapper module, so hack/cluster/build.sh can build them with `go build`
// from the Go module proxy.
//
// The local cluster is pinned to Kubernetes 1.35: it is the last minor that
// supports containerd 1.x (Debian's containerd is 1.6), and the kubelet must
// never be newer than the apiserver, so the whole cluster uses one version.
// etcd is the version k8s.io/kubernetes v1.35.x itself requires, so the
// dependency graph stays the one Kubernetes was tested with.
//
// This module is separate from the operator's go.mod (envtest runs the
// kube-apiserver and etcd built from it too): building k8s.io/kubernetes as a library
// requires replacing all of its staging modules (required at v0.0.0) with
// their released v0.X.Y counterparts.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

//go:build tools

// Package tools pins SeaweedFS (its `weed` command, whose S3 gateway is the
// local cluster's object store) as a dependency of this wrapper module, so
// hack/seaweedfs/build.sh can build it from the Go module proxy.
//
// `go install github.com/seaweedfs/seaweedfs/weed@...` is refused because
// SeaweedFS's go.mod has a replace directive; a wrapper module that repeats
// that replace line builds it.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"

//go:build !amd64 || purego

package kernels

// simdImpl returns nil: this build has no SIMD kernels (arm64 and other
// architectures, or the purego tag), so the generic ones run.
func simdImpl() *impl { return nil }

//go:build !(amd64 || arm64) || purego

package kernels

// simdImpls returns nothing: this build has no SIMD kernels (an
// architecture other than amd64 and arm64, or the purego tag), so the
// generic ones run.
func simdImpls() []*impl { return nil }

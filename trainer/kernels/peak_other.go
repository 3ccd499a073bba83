//go:build !amd64 || purego

package kernels

// PeakLoops has no loop outside amd64 (or with the purego tag): the peak is
// unknown there.
func PeakLoops() []PeakLoop { return nil }

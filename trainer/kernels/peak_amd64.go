//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// Implemented in peak_amd64.s: iters iterations (none when iters <= 0) of 12 independent
// VFMADD231PS on YMM (AVX2+FMA: 12*8*2 FLOPs) or ZMM (AVX-512F: 12*16*2).
//
//go:noescape
func fmaAVX2(iters int)

//go:noescape
func fmaAVX512(iters int)

// PeakLoops returns the FMA loops the CPU supports (as the kernels detect
// them, which includes the operating system's support of the registers).
func PeakLoops() []PeakLoop {
	var loops []PeakLoop
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		loops = append(loops, PeakLoop{ISA: "avx2+fma", FLOPsPerIter: 12 * 8 * 2, Run: fmaAVX2})
	}
	if cpu.X86.HasAVX512F {
		loops = append(loops, PeakLoop{ISA: "avx512f", FLOPsPerIter: 12 * 16 * 2, Run: fmaAVX512})
	}
	return loops
}

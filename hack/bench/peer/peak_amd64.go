package main

import (
	"os"
	"strings"
)

// Implemented in peak_amd64.s: iters iterations of 12 independent
// VFMADD231PS on YMM (AVX2+FMA: 12*8*2 FLOPs) or ZMM (AVX-512F: 12*16*2).
func fmaAVX2(iters int)
func fmaAVX512(iters int)

// fmaLoops returns the loops the CPU supports, from /proc/cpuinfo's flags
// (which the kernel sets only for features it has enabled).
func fmaLoops() []fmaLoop {
	b, _ := os.ReadFile("/proc/cpuinfo")
	var flags map[string]bool
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			flags = map[string]bool{}
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
			break
		}
	}
	var loops []fmaLoop
	if flags["avx2"] && flags["fma"] {
		loops = append(loops, fmaLoop{isa: "avx2+fma", flopsPerIter: 12 * 8 * 2, run: fmaAVX2})
	}
	if flags["avx512f"] {
		loops = append(loops, fmaLoop{isa: "avx512f", flopsPerIter: 12 * 16 * 2, run: fmaAVX512})
	}
	return loops
}

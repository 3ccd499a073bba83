//go:build amd64 && !purego

package kernels

import (
	"syscall"
	"testing"
)

// BenchmarkPeakFMA: the core's float32 FMA throughput with AVX2 (register
// operands only), the ceiling the GEMM benchmarks' GFLOP/s compare to. On
// a shared machine the CPU-time figure (GFLOP/cpu-s) is the one to use.
func BenchmarkPeakFMA(b *testing.B) {
	if simdImpl() == nil {
		b.Skip("no AVX2+FMA")
	}
	const iters = 1 << 16
	cpu0 := processCPU(b)
	for b.Loop() {
		peakFMA(iters)
	}
	flops := float64(peakFLOPsPerIter*iters) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops/float64(processCPU(b)-cpu0), "GFLOP/cpu-s")
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func TestPeakFMARuns(t *testing.T) {
	if simdImpl() == nil {
		t.Skip("no AVX2+FMA")
	}
	peakFMA(0)
	peakFMA(3)
}

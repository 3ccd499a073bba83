package kernels

import (
	"syscall"
	"testing"
)

// BenchmarkPeakFMA: the core's float32 FMA throughput per instruction set
// (register operands only), the ceiling the GEMM benchmarks' GFLOP/s
// compare to. On a shared machine the CPU-time figure (GFLOP/cpu-s) is the
// one to use.
func BenchmarkPeakFMA(b *testing.B) {
	loops := PeakLoops()
	if len(loops) == 0 {
		b.Skip("no FMA loop for this CPU or build")
	}
	const iters = 1 << 16
	for _, l := range loops {
		b.Run(l.ISA, func(b *testing.B) {
			cpu0 := processCPU(b)
			for b.Loop() {
				l.Run(iters)
			}
			flops := l.FLOPsPerIter * iters * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(flops/float64(processCPU(b)-cpu0), "GFLOP/cpu-s")
		})
	}
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestPeakLoopsRun runs every loop the CPU has, with 0 and a few
// iterations, and checks their FLOP counts are those of whole vectors.
func TestPeakLoopsRun(t *testing.T) {
	for _, l := range PeakLoops() {
		l.Run(0) // returns at once (a count-down loop entered with 0 would run 2^64 times)
		l.Run(-1)
		l.Run(3)
		if l.FLOPsPerIter <= 0 || int(l.FLOPsPerIter)%16 != 0 {
			t.Errorf("%s: %v FLOPs per iteration, want a positive multiple of 16 (8 lanes, FMA counts 2)", l.ISA, l.FLOPsPerIter)
		}
	}
}

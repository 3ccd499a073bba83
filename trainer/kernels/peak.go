package kernels

// PeakLoop is one instruction set's register-only loop of independent
// float32 fused multiply-adds: no memory traffic, so its FLOPs per CPU
// second are the ceiling a matrix kernel can reach on one core. The
// benchmarks report their GFLOP/s against it.
type PeakLoop struct {
	// ISA names the instruction set, e.g. "avx2+fma" or "avx512f".
	ISA string
	// FLOPsPerIter is the float32 FLOPs of one iteration (an FMA counts 2).
	FLOPsPerIter float64
	// Run runs iters iterations on the calling thread.
	Run func(iters int)
}

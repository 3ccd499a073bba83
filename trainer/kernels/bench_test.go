package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the products of one SGD step at batch 32 of the MLP
// 200-80-1 on a 64-wide input, a batch-1024 layer on that input, and the
// two hidden layers at batch 1024 of the Wide&Deep model of the PyTorch
// comparison (5 fields of 8: a 40-wide input).
var benchShapes = []struct {
	name    string
	m, n, k int
}{
	{"32x200x64", 32, 200, 64},
	{"32x80x200", 32, 80, 200},
	{"32x1x80", 32, 1, 80},
	{"1024x200x64", 1024, 200, 64},
	{"1024x200x40", 1024, 200, 40},
	{"1024x80x200", 1024, 80, 200},
}

// benchImpls returns the generic implementation and the SIMD ones the CPU
// supports.
func benchImpls() []*impl {
	return append([]*impl{&genericImpl}, simdImpls()...)
}

// reportFlops reports the rate of 2·m·n·k floating-point operations per
// iteration, per second of wall time and per second of the process's CPU
// time since cpu0 (processCPU; the figure to read on a shared machine).
func reportFlops(b *testing.B, m, n, k int, cpu0 int64) {
	flops := float64(2*m*n*k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops/float64(processCPU(b)-cpu0), "GFLOP/cpu-s")
}

func BenchmarkGemmNN(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range benchShapes {
		x, _ := matrix(rng, sh.m, sh.k, 0)
		w, _ := matrix(rng, sh.k, sh.n, 0)
		bias, _ := matrix(rng, 1, sh.n, 0)
		c := make([]float32, sh.m*sh.n)
		for _, im := range benchImpls() {
			b.Run(fmt.Sprintf("%s/%s", sh.name, im.name), func(b *testing.B) {
				cpu0 := processCPU(b)
				for b.Loop() {
					im.gemmNN(sh.m, sh.n, sh.k, x, sh.k, w, sh.n, c, sh.n, bias, true)
				}
				reportFlops(b, sh.m, sh.n, sh.k, cpu0)
			})
		}
	}
}

func BenchmarkGemmTN(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, sh := range benchShapes {
		// dW (k×n) += xᵀ (k×m) · dh (m×n).
		x, _ := matrix(rng, sh.m, sh.k, 0)
		dh, _ := matrix(rng, sh.m, sh.n, 0)
		c := make([]float32, sh.k*sh.n)
		for _, im := range benchImpls() {
			b.Run(fmt.Sprintf("%s/%s", sh.name, im.name), func(b *testing.B) {
				cpu0 := processCPU(b)
				for b.Loop() {
					im.gemmTN(sh.k, sh.n, sh.m, x, sh.k, dh, sh.n, c, sh.n)
				}
				reportFlops(b, sh.m, sh.n, sh.k, cpu0)
			})
		}
	}
}

func BenchmarkGemmNT(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sh := range benchShapes {
		// dx (m×k) = dh (m×n) · Wᵀ, W k×n, masked by x.
		dh, _ := matrix(rng, sh.m, sh.n, 0)
		w, _ := matrix(rng, sh.k, sh.n, 0)
		x, _ := matrix(rng, sh.m, sh.k, 0)
		c := make([]float32, sh.m*sh.k)
		for _, im := range benchImpls() {
			b.Run(fmt.Sprintf("%s/%s", sh.name, im.name), func(b *testing.B) {
				cpu0 := processCPU(b)
				for b.Loop() {
					im.gemmNT(sh.m, sh.k, sh.n, dh, sh.n, w, sh.n, c, sh.k, x, sh.k)
				}
				reportFlops(b, sh.m, sh.n, sh.k, cpu0)
			})
		}
	}
}

func BenchmarkAxpy(b *testing.B) {
	for _, n := range []int{8, 16000} {
		x := make([]float32, n)
		y := make([]float32, n)
		for _, im := range benchImpls() {
			b.Run(fmt.Sprintf("%d/%s", n, im.name), func(b *testing.B) {
				for b.Loop() {
					im.axpy(0.5, x, y)
				}
				b.ReportMetric(float64(2*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

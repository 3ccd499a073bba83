// Package kernels holds the trainer's dense float32 compute kernels: the
// small matrix products of the MLP layers (forward and both backward
// products, with the bias, ReLU and ReLU-mask steps fused) and the vector
// updates of parameters and embedding rows.
//
// Matrices are row-major float32 with a row stride in elements (lda, ldb,
// ldc, ldm: the distance between the starts of two consecutive rows, at
// least the row length). A matrix with r rows, c columns and stride ld
// occupies (r-1)*ld+c elements. Products run on the calling goroutine and do
// not allocate.
//
// Four implementations exist: a portable pure-Go one ("generic"), Go
// assembly micro-kernels for amd64 CPUs with AVX2 and FMA ("avx2", with
// masked loads and stores on edge tiles), for amd64 CPUs with AVX-512F
// ("avx512", 8×32 tiles with opmask edges, the AVX2 kernels for the rest)
// and for arm64 ("neon", NEON tiles of 4×16 and 4×4, edges in Go). The
// fastest one the CPU (and the operating system, for the ZMM state)
// supports is chosen at start-up; the environment variable LCFT_KERNELS
// names one to force ("generic", or a SIMD one the CPU supports), and
// building with the tag purego leaves only the generic one. Results agree
// to float32 rounding (fused multiply-adds and summation order differ),
// not bit for bit.
package kernels

import "os"

// EnvVar names the environment variable that selects the implementation:
// "generic" forces the pure-Go kernels, the name of a SIMD implementation
// the CPU supports ("avx512", "avx2", "neon") forces that one; anything
// else (or unset) picks the fastest one the CPU supports.
const EnvVar = "LCFT_KERNELS"

// Generic is the name of the pure-Go implementation.
const Generic = "generic"

// impl is one implementation of the kernels; see the exported functions for
// the contracts. Arguments are validated before they reach an impl.
type impl struct {
	name   string
	gemmNN func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool)
	gemmTN func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int)
	gemmNT func(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int)
	axpy   func(alpha float32, x, y []float32)
	dot    func(x, y []float32) float32
}

// active is the implementation in use.
var active = choose(os.Getenv(EnvVar))

// choose returns the implementation for the value of EnvVar.
func choose(env string) *impl {
	if env == Generic {
		return &genericImpl
	}
	simd := simdImpls()
	for _, s := range simd {
		if s.name == env {
			return s
		}
	}
	if len(simd) > 0 {
		return simd[0]
	}
	return &genericImpl
}

// Implementation returns the name of the kernels in use: "avx512", "avx2",
// "neon" or "generic".
func Implementation() string { return active.name }

// GemmNN sets C = A·B, then adds bias to every row when bias is not nil
// (len(bias) ≥ n) and sets negative values to 0 when relu is set (NaN stays
// NaN). A is m×k, B is
// k×n, C is m×n.
func GemmNN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	if m <= 0 || n <= 0 {
		return
	}
	check(m, k, a, lda)
	check(k, n, b, ldb)
	check(m, n, c, ldc)
	if bias != nil {
		_ = bias[n-1]
	}
	active.gemmNN(m, n, k, a, lda, b, ldb, c, ldc, bias, relu)
}

// GemmTN accumulates C += Aᵀ·B, where A is k×m (so Aᵀ is m×k), B is k×n
// and C is m×n: the weight gradient inᵀ·dout of a dense layer, k being the
// batch.
func GemmTN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	check(k, m, a, lda)
	check(k, n, b, ldb)
	check(m, n, c, ldc)
	active.gemmTN(m, n, k, a, lda, b, ldb, c, ldc)
}

// GemmNT sets C = A·Bᵀ, where A is m×k, B is n×k (so Bᵀ is k×n) and C is
// m×n: the input gradient dout·Wᵀ of a dense layer. When mask is not nil
// (m×n with stride ldm), C[i][j] is set to 0 wherever mask[i][j] ≤ 0 (not
// where it is NaN): the backward step of a ReLU whose output was mask.
func GemmNT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int) {
	if m <= 0 || n <= 0 {
		return
	}
	check(m, k, a, lda)
	check(n, k, b, ldb)
	check(m, n, c, ldc)
	if mask != nil {
		check(m, n, mask, ldm)
	}
	active.gemmNT(m, n, k, a, lda, b, ldb, c, ldc, mask, ldm)
}

// Axpy sets y += alpha*x over len(y) elements; len(x) ≥ len(y).
func Axpy(alpha float32, x, y []float32) {
	if len(y) < smallVector {
		x = x[:len(y)]
		for i, v := range x {
			y[i] += alpha * v
		}
		return
	}
	active.axpy(alpha, x[:len(y)], y)
}

// smallVector is the length below which Axpy and Dot loop in Go: for an
// embedding row of 8 values the call into a SIMD kernel costs more than
// it saves.
const smallVector = 16

// Dot returns the inner product of x and y over len(x) elements; len(y) ≥
// len(x).
func Dot(x, y []float32) float32 {
	if len(x) < smallVector {
		y = y[:len(x)]
		var s float32
		for i, v := range x {
			s += v * y[i]
		}
		return s
	}
	return active.dot(x, y[:len(x)])
}

// check panics, as an out-of-range index would, when x cannot hold an r×c
// matrix with row stride ld.
func check(r, c int, x []float32, ld int) {
	if c == 0 || r == 0 {
		return
	}
	if ld < c {
		panic("kernels: row stride smaller than the number of columns")
	}
	_ = x[(r-1)*ld+c-1]
}

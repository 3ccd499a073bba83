//go:build arm64 && !purego

package kernels

// neonImpl uses the NEON micro-kernels of kernels_arm64.s. NEON (Advanced
// SIMD) is part of every arm64 CPU, so it needs no feature check. Tiles of
// 4×16 and 4×4 run in assembly; the columns past the last multiple of 4 and
// the rows past the last multiple of 4 run in the generic code.
var neonImpl = impl{
	name:   "neon",
	gemmNN: gemmNNNEON,
	gemmTN: gemmTNNEON,
	gemmNT: gemmNTNEON,
	axpy:   axpyNEON,
	dot:    dotNEON,
}

// simdImpls returns the NEON kernels.
func simdImpls() []*impl { return []*impl{&neonImpl} }

// bcast4x16 computes the 4×16 tile of C from k rank-1 updates: for p < k,
// C[r][j] += A(r, p)·B[p][j], where A(r, p) is at a + r*rs + p*ps
// (elements) and B's rows are ldb elements apart. flags as in simd.go
// (flagAcc and flagBias are not combined); bias has 16 values.
//
//go:noescape
func bcast4x16(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int)

// bcast4x4 is bcast4x16 for a 4×4 tile.
//
//go:noescape
func bcast4x4(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int)

// axpy16 sets y += alpha*x over n elements, n a multiple of 16.
//
//go:noescape
func axpy16(alpha float32, x, y *float32, n int)

// dot16 returns the inner product of n elements, n a multiple of 16.
//
//go:noescape
func dot16(x, y *float32, n int) float32

// bcastTiles runs the 4×16 and 4×4 tiles over the first m4 rows and n4
// columns of C (multiples of 4); A(r, p) is at a[r*rs + p*ps].
func bcastTiles(m4, n4, k int, a []float32, rs, ps int, b []float32, ldb int, c []float32, ldc int, bias []float32, flags int) {
	n16 := n4 &^ 15
	for j := 0; j < n16; j += 16 {
		for i := 0; i < m4; i += 4 {
			bcast4x16(k, &a[i*rs], rs, ps, &b[j], ldb, &c[i*ldc+j], ldc, biasAt(bias, j), flags)
		}
	}
	for j := n16; j < n4; j += 4 {
		for i := 0; i < m4; i += 4 {
			bcast4x4(k, &a[i*rs], rs, ps, &b[j], ldb, &c[i*ldc+j], ldc, biasAt(bias, j), flags)
		}
	}
}

func gemmNNNEON(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	if k == 0 {
		gemmNNGeneric(m, n, k, a, lda, b, ldb, c, ldc, bias, relu)
		return
	}
	if n == 1 && ldb == 1 {
		gemmNNColumn(m, k, a, lda, b, c, ldc, bias, relu, dotNEON)
		return
	}
	m4, n4 := m&^3, n&^3
	if m4 > 0 && n4 > 0 {
		bcastTiles(m4, n4, k, a, lda, 1, b, ldb, c, ldc, bias, nnFlags(bias, relu))
	}
	if m4 > 0 && n4 < n {
		var rest []float32
		if bias != nil {
			rest = bias[n4:]
		}
		gemmNNGeneric(m4, n-n4, k, a, lda, b[n4:], ldb, c[n4:], ldc, rest, relu)
	}
	if m4 < m {
		gemmNNGeneric(m-m4, n, k, a[m4*lda:], lda, b, ldb, c[m4*ldc:], ldc, bias, relu)
	}
}

func gemmTNNEON(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if k == 0 {
		return
	}
	if n == 1 && ldc == 1 {
		gemmTNColumn(m, k, a, lda, b, ldb, c, axpyNEON)
		return
	}
	m4, n4 := m&^3, n&^3
	if m4 > 0 && n4 > 0 {
		// Aᵀ(r, p) = A[p][r]: row stride 1, column stride lda.
		bcastTiles(m4, n4, k, a, 1, lda, b, ldb, c, ldc, nil, flagAcc)
	}
	if m4 > 0 && n4 < n {
		gemmTNGeneric(m4, n-n4, k, a, lda, b[n4:], ldb, c[n4:], ldc)
	}
	if m4 < m {
		gemmTNGeneric(m-m4, n, k, a[m4:], lda, b, ldb, c[m4*ldc:], ldc)
	}
}

func gemmNTNEON(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int) {
	if k == 1 && ldb == 1 {
		gemmNTOuter(m, n, a, lda, b, c, ldc, mask, ldm, axpyNEON)
		return
	}
	gemmNTDots(m, n, k, a, lda, b, ldb, c, ldc, mask, ldm, dotNEON)
}

func axpyNEON(alpha float32, x, y []float32) {
	x = x[:len(y)]
	n16 := len(y) &^ 15
	if n16 > 0 {
		axpy16(alpha, &x[0], &y[0], n16)
	}
	for i := n16; i < len(y); i++ {
		y[i] += alpha * x[i]
	}
}

func dotNEON(x, y []float32) float32 {
	y = y[:len(x)]
	n16 := len(x) &^ 15
	var s float32
	if n16 > 0 {
		s = dot16(&x[0], &y[0], n16)
	}
	for i := n16; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

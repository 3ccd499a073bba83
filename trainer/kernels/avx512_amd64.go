//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// avx512Impl uses the AVX-512F tiles of avx512_amd64.s for the matrix
// products (8 rows by up to 32 columns, two ZMM accumulators per row) and
// the AVX2 kernels for the rest: the rows past the last multiple of 8, the
// MLP output unit's column shapes, short GemmNT products and the vectors.
var avx512Impl = impl{
	name:   "avx512",
	gemmNN: gemmNNAVX512,
	gemmTN: gemmTNAVX512,
	gemmNT: gemmNTAVX512,
	axpy:   axpyAVX2,
	dot:    dotAVX2,
}

// hasAVX512 reports whether the CPU and the operating system support the
// AVX-512F kernels (x/sys/cpu sets HasAVX512F only when the OS saves the
// opmask and ZMM state); they fall back on the AVX2+FMA ones.
func hasAVX512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA
}

// zbcast8x32 computes an 8-row tile of C of up to 32 columns from k rank-1
// updates: for p < k, C[r][j] += A(r, p)·B[p][j], where A(r, p) is at a +
// r*rs + p*ps (elements) and B's rows are ldb elements apart. cols holds
// the column masks (colMasks). flags as in simd.go; bias has the tile's
// values, or with flagMask is the mask tile (rows ldm elements apart).
//
//go:noescape
func zbcast8x32(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags, cols, ldm int)

// colMasks returns zbcast8x32's column masks for a tile w (1..32) columns
// wide: bits 0..15 for columns 0..15, bits 16..31 for columns 16..31.
func colMasks(w int) int {
	lo, hi := min(w, 16), max(w-16, 0)
	return (1<<lo - 1) | (1<<hi-1)<<16
}

// zTiles computes the m×w block of C (w ≤ 32 columns) at c, with A(r, p)
// at a[r*rs + p*ps], B's rows ldb apart from b[0], and bias (or, with
// flagMask, the mask with rows ldm apart) from extra[0] when extra is not
// nil. Rows in groups of 8 run on the AVX-512 tile, the rest on the AVX2
// ones (4 and 1 rows, 16 columns at a time).
func zTiles(m, w, k int, a []float32, rs, ps int, b []float32, ldb int, c []float32, ldc int, extra []float32, flags, ldm int) {
	cols := colMasks(w)
	i := 0
	for ; i+8 <= m; i += 8 {
		zbcast8x32(k, &a[i*rs], rs, ps, &b[0], ldb, &c[i*ldc], ldc, extraAt(extra, flags, i, 0, ldm), flags, cols, ldm)
	}
	if i == m {
		return
	}
	for j := 0; j < w; j += 16 {
		ww := min(16, w-j)
		r := i
		for ; r+4 <= m; r += 4 {
			bcast4x16(k, &a[r*rs], rs, ps, &b[j], ldb, &c[r*ldc+j], ldc, extraAt(extra, flags, r, j, ldm), flags, ww, ldm)
		}
		for ; r < m; r++ {
			bcast1x16(k, &a[r*rs], ps, &b[j], ldb, &c[r*ldc+j], extraAt(extra, flags, r, j, ldm), flags, ww)
		}
	}
}

// extraAt returns the address of column j of the bias, or of element (i,
// j) of the mask with flagMask; nil when extra is nil.
func extraAt(extra []float32, flags, i, j, ldm int) *float32 {
	switch {
	case extra == nil:
		return nil
	case flags&flagMask != 0:
		return &extra[i*ldm+j]
	default:
		return &extra[j]
	}
}

func gemmNNAVX512(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	if k == 0 || (n == 1 && ldb == 1) {
		gemmNNAVX2(m, n, k, a, lda, b, ldb, c, ldc, bias, relu)
		return
	}
	flags := nnFlags(bias, relu)
	for j := 0; j < n; j += 32 {
		var extra []float32
		if bias != nil {
			extra = bias[j:]
		}
		zTiles(m, min(32, n-j), k, a, lda, 1, b[j:], ldb, c[j:], ldc, extra, flags, 0)
	}
}

func gemmTNAVX512(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if k == 0 || (n == 1 && ldc == 1) {
		gemmTNAVX2(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	// Aᵀ(r, p) = A[p][r]: row stride 1, column stride lda.
	for j := 0; j < n; j += 32 {
		zTiles(m, min(32, n-j), k, a, 1, lda, b[j:], ldb, c[j:], ldc, nil, flagAcc, 0)
	}
}

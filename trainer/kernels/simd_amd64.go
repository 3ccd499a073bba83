//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// avx2Impl uses the AVX2+FMA micro-kernels of kernels_amd64.s.
var avx2Impl = impl{
	name:   "avx2",
	gemmNN: gemmNNAVX2,
	gemmTN: gemmTNAVX2,
	gemmNT: gemmNTAVX2,
	axpy:   axpyAVX2,
	dot:    dotAVX2,
}

// simdImpls returns the SIMD kernels the CPU supports, fastest first: the
// AVX-512 ones (avx512_amd64.go), then the AVX2+FMA ones.
func simdImpls() []*impl {
	var out []*impl
	if hasAVX512() {
		out = append(out, &avx512Impl)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		out = append(out, &avx2Impl)
	}
	return out
}

// bcast4x16 computes a tile of up to 4×16 of C from k rank-1 updates: for
// p < k, C[r][j] += A(r, p)·B[p][j], where A(r, p) is at a + r*rs + p*ps
// (elements) and B's rows are ldb elements apart. Only the first w (1..16)
// columns are read or written. flags as in simd.go; bias has w values, or
// with flagMask is the mask tile (rows ldm elements apart).
//
//go:noescape
func bcast4x16(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags, w, ldm int)

// bcast1x16 is bcast4x16 for one row of C.
//
//go:noescape
func bcast1x16(k int, a *float32, ps int, b *float32, ldb int, c *float32, bias *float32, flags, w int)

// dot2x4 sets the rows×4 tile (rows 1 or 2) C[r][j] = A[r]·B[j] over k
// elements, then zeroes C[r][j] where mask[r][j] ≤ 0 when mask is not nil.
//
//go:noescape
func dot2x4(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, mask *float32, ldm int, rows int)

//go:noescape
func axpyAsm(alpha float32, x, y *float32, n int)

//go:noescape
func dotAsm(x, y *float32, n int) float32

func gemmNNAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	if k == 0 {
		gemmNNGeneric(m, n, k, a, lda, b, ldb, c, ldc, bias, relu)
		return
	}
	if n == 1 && ldb == 1 {
		gemmNNColumn(m, k, a, lda, b, c, ldc, bias, relu, dotAVX2)
		return
	}
	flags := nnFlags(bias, relu)
	for j := 0; j < n; j += 16 {
		w := min(16, n-j)
		biasp := biasAt(bias, j)
		i := 0
		for ; i+4 <= m; i += 4 {
			bcast4x16(k, &a[i*lda], lda, 1, &b[j], ldb, &c[i*ldc+j], ldc, biasp, flags, w, 0)
		}
		for ; i < m; i++ {
			bcast1x16(k, &a[i*lda], 1, &b[j], ldb, &c[i*ldc+j], biasp, flags, w)
		}
	}
}

func gemmTNAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if k == 0 {
		return
	}
	if n == 1 && ldc == 1 {
		gemmTNColumn(m, k, a, lda, b, ldb, c, axpyAVX2)
		return
	}
	for j := 0; j < n; j += 16 {
		w := min(16, n-j)
		i := 0
		for ; i+4 <= m; i += 4 {
			bcast4x16(k, &a[i], 1, lda, &b[j], ldb, &c[i*ldc+j], ldc, nil, flagAcc, w, 0)
		}
		for ; i < m; i++ {
			bcast1x16(k, &a[i], lda, &b[j], ldb, &c[i*ldc+j], nil, flagAcc, w)
		}
	}
}

func gemmNTAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int) {
	if k == 0 {
		gemmNTGeneric(m, n, k, a, lda, b, ldb, c, ldc, mask, ldm)
		return
	}
	if k == 1 && ldb == 1 {
		gemmNTOuterAVX2(m, n, a, lda, b, c, ldc, mask, ldm)
		return
	}
	n4 := n &^ 3
	for i := 0; i < m; i += 2 {
		rows := min(2, m-i)
		var mp *float32
		for j := 0; j < n4; j += 4 {
			if mask != nil {
				mp = &mask[i*ldm+j]
			}
			dot2x4(k, &a[i*lda], lda, &b[j*ldb], ldb, &c[i*ldc+j], ldc, mp, ldm, rows)
		}
		for r := i; r < i+rows; r++ {
			for j := n4; j < n; j++ {
				v := dotAsm(&a[r*lda], &b[j*ldb], k)
				if mask != nil && mask[r*ldm+j] <= 0 {
					v = 0
				}
				c[r*ldc+j] = v
			}
		}
	}
}

func axpyAVX2(alpha float32, x, y []float32) {
	axpyAsm(alpha, unsafe.SliceData(x), unsafe.SliceData(y), len(y))
}

func dotAVX2(x, y []float32) float32 {
	return dotAsm(unsafe.SliceData(x), unsafe.SliceData(y), len(x))
}

// gemmNTOuterAVX2 is GemmNT for k == 1 and ldb == 1, the input gradient of
// the MLP's output unit: C = A[:, 0]·B[:, 0]ᵀ, an NN product with one
// inner step (B's column as a row), the mask fused in the tiles.
func gemmNTOuterAVX2(m, n int, a []float32, lda int, b, c []float32, ldc int, mask []float32, ldm int) {
	flags := 0
	if mask != nil {
		flags = flagMask
	}
	maskAt := func(i, j int) *float32 {
		if mask == nil {
			return nil
		}
		return &mask[i*ldm+j]
	}
	for j := 0; j < n; j += 16 {
		w := min(16, n-j)
		i := 0
		for ; i+4 <= m; i += 4 {
			bcast4x16(1, &a[i*lda], lda, 1, &b[j], n, &c[i*ldc+j], ldc, maskAt(i, j), flags, w, ldm)
		}
		for ; i < m; i++ {
			bcast1x16(1, &a[i*lda], 1, &b[j], n, &c[i*ldc+j], maskAt(i, j), flags, w)
		}
	}
}

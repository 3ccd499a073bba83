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

// simdImpl returns the AVX2 kernels when the CPU has AVX2 and FMA.
func simdImpl() *impl {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return &avx2Impl
	}
	return nil
}

// Flags of bcast4x16 and bcast1x16.
const (
	flagAcc  = 1 << iota // start from C instead of 0
	flagBias             // add the row vector e to every row
	flagReLU             // max(·, 0) before storing
)

// bcast4x16 computes a tile of up to 4×16 of C from k rank-1 updates: for
// p < k, C[r][j] += A(r, p)·B[p][j], where A(r, p) is at a + r*rs + p*ps
// (elements) and B's rows are ldb elements apart. Only the first w (1..16)
// columns are read or written. flags as above; bias has w values.
//
//go:noescape
func bcast4x16(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags, w int)

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

// nnFlags returns the kernel flags for a bias and relu.
func nnFlags(bias []float32, relu bool) int {
	f := 0
	if bias != nil {
		f |= flagBias
	}
	if relu {
		f |= flagReLU
	}
	return f
}

func gemmNNAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	if k == 0 {
		gemmNNGeneric(m, n, k, a, lda, b, ldb, c, ldc, bias, relu)
		return
	}
	if n == 1 && ldb == 1 {
		// One output column: a dot product per row (the MLP's output
		// unit); a 16-wide tile would compute 15 lanes of padding.
		bcol := b[:k]
		for i := range m {
			v := dotAsm(&a[i*lda], &bcol[0], k)
			if bias != nil {
				v += bias[0]
			}
			if relu && v < 0 {
				v = 0
			}
			c[i*ldc] = v
		}
		return
	}
	flags := nnFlags(bias, relu)
	var biasp *float32
	for j := 0; j < n; j += 16 {
		w := min(16, n-j)
		if bias != nil {
			biasp = &bias[j]
		}
		i := 0
		for ; i+4 <= m; i += 4 {
			bcast4x16(k, &a[i*lda], lda, 1, &b[j], ldb, &c[i*ldc+j], ldc, biasp, flags, w)
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
		// One column of C (the gradient of the MLP's output weights):
		// C += Σp B[p][0]·A[p], an axpy per row of A.
		ccol := c[:m]
		for p := range k {
			axpyAsm(b[p*ldb], &a[p*lda], &ccol[0], m)
		}
		return
	}
	for j := 0; j < n; j += 16 {
		w := min(16, n-j)
		i := 0
		for ; i+4 <= m; i += 4 {
			bcast4x16(k, &a[i], 1, lda, &b[j], ldb, &c[i*ldc+j], ldc, nil, flagAcc, w)
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
		// An outer product (the input gradient of the MLP's output
		// unit): C[i] = A[i][0]·B[:, 0], B's column contiguous.
		bcol := b[:n]
		for i := range m {
			crow := c[i*ldc : i*ldc+n]
			clear(crow)
			axpyAsm(a[i*lda], &bcol[0], &crow[0], n)
			if mask != nil {
				for j, v := range mask[i*ldm : i*ldm+n] {
					if v <= 0 {
						crow[j] = 0
					}
				}
			}
		}
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

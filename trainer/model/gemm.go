package model

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Tile sizes that keep gonum's Sgemm on its serial path (it goes parallel,
// spawning goroutines and allocating, from 4 blocks of 64×64 of C). The
// runner parallelises across replicas, so products stay on one core.
const (
	tileRows = 64
	tileCols = 3 * 64
)

// gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m×k (A is m×k, or k×m when tA), op(B) is k×n (B is k×n, or n×k
// when tB) and C is m×n; lda, ldb and ldc are the row strides.
func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	for i := 0; i < m; i += tileRows {
		mt := min(tileRows, m-i)
		var av blas32.General
		if tA {
			av = blas32.General{Rows: k, Cols: mt, Stride: lda, Data: a[i:]}
		} else {
			av = blas32.General{Rows: mt, Cols: k, Stride: lda, Data: a[i*lda:]}
		}
		for j := 0; j < n; j += tileCols {
			nt := min(tileCols, n-j)
			var bv blas32.General
			if tB {
				bv = blas32.General{Rows: nt, Cols: k, Stride: ldb, Data: b[j*ldb:]}
			} else {
				bv = blas32.General{Rows: k, Cols: nt, Stride: ldb, Data: b[j:]}
			}
			cv := blas32.General{Rows: mt, Cols: nt, Stride: ldc, Data: c[i*ldc+j:]}
			blas32.Gemm(ta, tb, alpha, av, bv, beta, cv)
		}
	}
}

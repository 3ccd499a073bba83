//go:build (amd64 || arm64) && !purego

package kernels

// Flags of the broadcast micro-kernels (bcast*).
const (
	flagAcc  = 1 << iota // start from C instead of 0
	flagBias             // add the row vector bias to every row
	flagReLU             // set negative values to 0 before storing
	flagMask             // zero C where the mask (passed as bias) is ≤ 0 (amd64)
)

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

// biasAt returns &bias[j], or nil without a bias.
func biasAt(bias []float32, j int) *float32 {
	if bias == nil {
		return nil
	}
	return &bias[j]
}

// The shapes below are those of the MLP's output unit, where a SIMD tile
// would mostly compute padding; they run on the vector dot and axpy.

// gemmNNColumn is GemmNN for n == 1 and ldb == 1: a dot product per row.
func gemmNNColumn(m, k int, a []float32, lda int, b, c []float32, ldc int, bias []float32, relu bool, dot func(x, y []float32) float32) {
	bcol := b[:k]
	for i := range m {
		v := dot(a[i*lda:i*lda+k], bcol)
		if bias != nil {
			v += bias[0]
		}
		if relu && v < 0 {
			v = 0
		}
		c[i*ldc] = v
	}
}

// gemmTNColumn is GemmTN for n == 1 and ldc == 1: C += Σp B[p][0]·A[p],
// an axpy per row of A.
func gemmTNColumn(m, k int, a []float32, lda int, b []float32, ldb int, c []float32, axpy func(alpha float32, x, y []float32)) {
	ccol := c[:m]
	for p := range k {
		axpy(b[p*ldb], a[p*lda:p*lda+m], ccol)
	}
}

// gemmNTOuter is GemmNT for k == 1 and ldb == 1: the outer product C[i] =
// A[i][0]·B[:, 0], B's column contiguous.
func gemmNTOuter(m, n int, a []float32, lda int, b, c []float32, ldc int, mask []float32, ldm int, axpy func(alpha float32, x, y []float32)) {
	bcol := b[:n]
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		clear(crow)
		axpy(a[i*lda], bcol, crow)
		if mask != nil {
			for j, v := range mask[i*ldm : i*ldm+n] {
				if v <= 0 {
					crow[j] = 0
				}
			}
		}
	}
}

package kernels

// genericImpl is the portable pure-Go implementation.
var genericImpl = impl{
	name:   Generic,
	gemmNN: gemmNNGeneric,
	gemmTN: gemmTNGeneric,
	gemmNT: gemmNTGeneric,
	axpy:   axpyGeneric,
	dot:    dotGeneric,
}

func gemmNNGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		if bias != nil {
			copy(crow, bias[:n])
		} else {
			clear(crow)
		}
		if k > 0 {
			for p, av := range a[i*lda : i*lda+k] {
				axpyGeneric(av, b[p*ldb:p*ldb+n], crow)
			}
		}
		if relu {
			for j, v := range crow {
				if v < 0 {
					crow[j] = 0
				}
			}
		}
	}
}

func gemmTNGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for p := range k {
		brow := b[p*ldb : p*ldb+n]
		acol := a[p*lda : p*lda+m]
		for i, av := range acol {
			axpyGeneric(av, brow, c[i*ldc:i*ldc+n])
		}
	}
}

func gemmNTGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int) {
	gemmNTDots(m, n, k, a, lda, b, ldb, c, ldc, mask, ldm, dotGeneric)
}

// gemmNTDots computes GemmNT with one dot product per element of C.
func gemmNTDots(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int, dot func(x, y []float32) float32) {
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		if k == 0 {
			clear(crow)
		} else {
			arow := a[i*lda : i*lda+k]
			for j := range crow {
				crow[j] = dot(arow, b[j*ldb:j*ldb+k])
			}
		}
		if mask != nil {
			for j, v := range mask[i*ldm : i*ldm+n] {
				if v <= 0 {
					crow[j] = 0
				}
			}
		}
	}
}

func axpyGeneric(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

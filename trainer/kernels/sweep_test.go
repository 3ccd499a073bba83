package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// sweepRows are the m of the sweep: every size to 17 (every remainder of
// the 4- and 8-row tiles, one and two tiles), the edges of 32, and sizes
// past ntTransposeMinRows, where GemmNT runs on the transposed panel, with
// every remainder of 8.
var sweepRows = append(seq(1, 17), 24, 31, 32, 33, 64, 65, 66, 67, 68, 69, 70, 71, 72, 79)

// sweepInner are the k of the sweep: short, at and past the vector widths
// (8, 16), and past ntPanelK, where GemmNT's panel is taken in chunks.
var sweepInner = []int{1, 2, 7, 8, 9, 16, 17, 33, 300}

// sweepCols are the n of the sweep: every width to 17 (every remainder of
// the 16-column tiles), the edges of the 32-column tiles, 47 (a 32-column
// tile and a 15-column edge) and 65.
var sweepCols = append(seq(1, 17), 24, 31, 32, 33, 47, 65)

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestSweep compares every SIMD implementation the CPU supports with the
// generic one over all sizes of sweepRows × sweepCols × sweepInner, with
// padded strides, for the three products and their fused steps (bias and
// ReLU, the ReLU mask). Large k run with a subset of m to bound the time.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("sweep skipped in -short mode")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range impls(t) {
		t.Run(s.name, func(t *testing.T) {
			for _, k := range sweepInner {
				for _, m := range sweepRows {
					if k > 33 && m%4 != 3 && m != 64 && m != 72 {
						continue
					}
					for _, n := range sweepCols {
						if err := sweepOne(rng, s, m, n, k); err != nil {
							t.Fatalf("%dx%dx%d: %v", m, n, k, err)
						}
					}
				}
			}
		})
	}
}

// sweepOne runs GemmNN (bias and ReLU), GemmTN and GemmNT (masked) on one
// shape with s and the generic kernels, and compares the results.
func sweepOne(rng *rand.Rand, s *impl, m, n, k int) error {
	pad := (m + n + k) % 3
	a, lda := matrix(rng, m, k, pad)
	b, ldb := matrix(rng, k, n, pad)
	bias, _ := matrix(rng, 1, n, 0)
	want, ldc := matrix(rng, m, n, pad)
	got := append([]float32(nil), want...)
	gemmNNGeneric(m, n, k, a, lda, b, ldb, want, ldc, bias, true)
	s.gemmNN(m, n, k, a, lda, b, ldb, got, ldc, bias, true)
	if err := closeTo(got, want, k); err != nil {
		return fmt.Errorf("GemmNN: %w", err)
	}

	at, ldat := matrix(rng, k, m, pad)
	want, _ = matrix(rng, m, n, pad)
	got = append(got[:0], want...)
	gemmTNGeneric(m, n, k, at, ldat, b, ldb, want, ldc)
	s.gemmTN(m, n, k, at, ldat, b, ldb, got, ldc)
	if err := closeTo(got, want, k+1); err != nil {
		return fmt.Errorf("GemmTN: %w", err)
	}

	bt, ldbt := matrix(rng, n, k, pad)
	mask, ldm := matrix(rng, m, n, pad+1)
	for _, msk := range [][]float32{nil, mask} {
		want, _ = matrix(rng, m, n, pad)
		got = append(got[:0], want...)
		gemmNTGeneric(m, n, k, a, lda, bt, ldbt, want, ldc, msk, ldm)
		s.gemmNT(m, n, k, a, lda, bt, ldbt, got, ldc, msk, ldm)
		if err := closeTo(got, want, k); err != nil {
			return fmt.Errorf("GemmNT (mask %v): %w", msk != nil, err)
		}
	}
	return nil
}

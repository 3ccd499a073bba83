package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// shapes covers single elements, sizes below, at and above the tile sizes
// (4 and 16 for the broadcast kernels, 2×4 and 8 for the dot kernels) and
// the model's layer shapes.
var shapes = [][3]int{ // m, n, k
	{1, 1, 1}, {1, 1, 7}, {1, 17, 1}, {3, 17, 5}, {4, 16, 8}, {5, 15, 9},
	{2, 4, 8}, {7, 3, 13}, {33, 65, 17}, {32, 200, 64}, {32, 80, 200},
	{32, 1, 80}, {80, 1, 32}, {64, 200, 32}, {200, 80, 32}, {6, 33, 1},
	{9, 9, 0},
}

// impls returns the implementations to compare against the generic one:
// every SIMD one the CPU supports (on an AVX-512 machine both avx512 and
// avx2), whichever LCFT_KERNELS selects.
func impls(t testing.TB) []*impl {
	s := simdImpls()
	if len(s) == 0 {
		t.Skip("no SIMD kernels in this build or on this CPU")
	}
	return s
}

// matrix returns a random r×c matrix with row stride c+pad, normal
// entries of which a fifth are 0, and its stride. The padding holds NaN so that a kernel reading it shows.
func matrix(rng *rand.Rand, r, c, pad int) ([]float32, int) {
	ld := c + pad
	x := make([]float32, max(0, (r-1)*ld+c))
	for i := range x {
		if i%ld >= c {
			x[i] = float32(math.NaN())
			continue
		}
		x[i] = float32(rng.NormFloat64())
		if rng.IntN(5) == 0 {
			x[i] = 0
		}
	}
	return x, max(ld, 1)
}

// close reports whether got and want agree within float32 rounding of a
// sum of k products, element by element.
func closeTo(got, want []float32, k int) error {
	tol := 1e-5 * float64(k+1)
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.Abs(g-w) > tol*(1+math.Abs(w)) || math.IsNaN(g) != math.IsNaN(w) {
			return fmt.Errorf("element %d: got %v, want %v", i, g, w)
		}
	}
	return nil
}

func TestGemmNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range impls(t) {
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, pad := range []int{0, 3} {
				for _, mode := range []struct {
					bias, relu bool
				}{{false, false}, {true, false}, {true, true}, {false, true}} {
					name := fmt.Sprintf("%s/%dx%dx%d/pad%d/bias=%v/relu=%v", s.name, m, n, k, pad, mode.bias, mode.relu)
					t.Run(name, func(t *testing.T) {
						a, lda := matrix(rng, m, k, pad)
						b, ldb := matrix(rng, k, n, pad)
						var bias []float32
						if mode.bias {
							bias, _ = matrix(rng, 1, n, 0)
						}
						want, ldc := matrix(rng, m, n, pad)
						got := append([]float32(nil), want...)
						gemmNNGeneric(m, n, k, a, lda, b, ldb, want, ldc, bias, mode.relu)
						s.gemmNN(m, n, k, a, lda, b, ldb, got, ldc, bias, mode.relu)
						if err := closeTo(got, want, k); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		}
	}
}

func TestGemmTN(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range impls(t) {
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, pad := range []int{0, 5} {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/pad%d", s.name, m, n, k, pad), func(t *testing.T) {
					a, lda := matrix(rng, k, m, pad)
					b, ldb := matrix(rng, k, n, pad)
					want, ldc := matrix(rng, m, n, pad)
					got := append([]float32(nil), want...)
					gemmTNGeneric(m, n, k, a, lda, b, ldb, want, ldc)
					s.gemmTN(m, n, k, a, lda, b, ldb, got, ldc)
					if err := closeTo(got, want, k+1); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

func TestGemmNT(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range impls(t) {
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, pad := range []int{0, 2} {
				for _, masked := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%dx%dx%d/pad%d/mask=%v", s.name, m, n, k, pad, masked), func(t *testing.T) {
						a, lda := matrix(rng, m, k, pad)
						b, ldb := matrix(rng, n, k, pad)
						var mask []float32
						ldm := 0
						if masked {
							mask, ldm = matrix(rng, m, n, pad+1)
						}
						want, ldc := matrix(rng, m, n, pad)
						got := append([]float32(nil), want...)
						gemmNTGeneric(m, n, k, a, lda, b, ldb, want, ldc, mask, ldm)
						s.gemmNT(m, n, k, a, lda, b, ldb, got, ldc, mask, ldm)
						if err := closeTo(got, want, k); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		}
	}
}

func TestAxpyDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range impls(t) {
		for _, n := range []int{1, 3, 7, 8, 9, 16, 31, 32, 33, 63, 100, 1000} {
			x, _ := matrix(rng, 1, n+2, 0)
			y, _ := matrix(rng, 1, n+2, 0)
			x, y = x[:n+2], y[:n+2]
			want := append([]float32(nil), y...)
			got := append([]float32(nil), y...)
			axpyGeneric(0.37, x[:n], want[:n])
			s.axpy(0.37, x[:n], got[:n])
			if err := closeTo(got, want, 1); err != nil {
				t.Errorf("%s axpy n=%d: %v", s.name, n, err)
			}
			if got[n] != y[n] || got[n+1] != y[n+1] {
				t.Errorf("%s axpy n=%d wrote past the end", s.name, n)
			}
			d, e := s.dot(x[:n], y[:n]), dotGeneric(x[:n], y[:n])
			if err := closeTo([]float32{d}, []float32{e}, n); err != nil {
				t.Errorf("%s dot n=%d: %v", s.name, n, err)
			}
		}
	}
}

// TestGenericHandComputed pins the generic kernels, which the SIMD ones are
// compared against, to hand-computed products.
func TestGenericHandComputed(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}   // 2×3
	b := []float32{1, 0, -1, 2, 1, -3} // 3×2
	c := make([]float32, 4)
	gemmNNGeneric(2, 2, 3, a, 3, b, 2, c, 2, []float32{0.5, 1}, true)
	// A·B = [[1-2+3·1, 2+2-9], [4-5+6, 8+5-18]] = [[2, -5], [5, -5]].
	if want := []float32{2.5, 0, 5.5, 0}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("GemmNN = %v, want %v", c, want)
	}
	// Aᵀ·B' with A 2×3 as k×m and B' = [[1, 1], [0, 2]] (k×n): 3×2.
	c = make([]float32, 6)
	gemmTNGeneric(3, 2, 2, a, 3, []float32{1, 1, 0, 2}, 2, c, 2)
	if want := []float32{1, 9, 2, 12, 3, 15}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("GemmTN = %v, want %v", c, want)
	}
	// A·Aᵀ with the mask [[1, 0], [1, 1]].
	c = make([]float32, 4)
	gemmNTGeneric(2, 2, 3, a, 3, a, 3, c, 2, []float32{1, 0, 1, 1}, 2)
	if want := []float32{14, 0, 32, 77}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("GemmNT = %v, want %v", c, want)
	}
}

func TestChoose(t *testing.T) {
	if got := choose(Generic).name; got != Generic {
		t.Errorf("choose(%q) = %q", Generic, got)
	}
	want := Generic
	simd := simdImpls()
	if len(simd) > 0 {
		want = simd[0].name
	}
	for _, env := range []string{"", "no-such-kernels"} {
		if got := choose(env).name; got != want {
			t.Errorf("choose(%q) = %q, want %q", env, got, want)
		}
	}
	for _, s := range simd {
		if got := choose(s.name); got != s {
			t.Errorf("choose(%q) = %q", s.name, got.name)
		}
	}
}

// TestNaNThroughReLU: a NaN reaching a ReLU or a ReLU mask stays NaN in
// every implementation, so that a diverged step is seen.
func TestNaNThroughReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	nan := float32(math.NaN())
	for _, s := range benchImpls() {
		m, n, k := 5, 19, 9
		a, _ := matrix(rng, m, k, 0)
		b, _ := matrix(rng, k, n, 0)
		a[2*k+3] = nan // row 2 of A·B is NaN
		c := make([]float32, m*n)
		s.gemmNN(m, n, k, a, k, b, n, c, n, make([]float32, n), true)
		for j := range n {
			if !math.IsNaN(float64(c[2*n+j])) {
				t.Fatalf("%s GemmNN relu: C[2][%d] = %v, want NaN", s.name, j, c[2*n+j])
			}
		}
		bt, _ := matrix(rng, n, k, 0)
		mask := make([]float32, m*n) // all zero: C is zeroed
		mask[1*n+6] = nan            // except where the mask is NaN
		s.gemmNT(m, n, k, a, k, bt, k, c, n, mask, n)
		for i := range m * n {
			if want := i == 1*n+6; (c[i] != 0) != want {
				t.Fatalf("%s GemmNT mask: C[%d] = %v, nonzero want %v", s.name, i, c[i], want)
			}
		}
	}
}

// TestExportedVectors: Axpy and Dot, whose short vectors loop in Go and long
// ones go to the implementation in use, agree with the generic kernels.
func TestExportedVectors(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := range 40 {
		x, _ := matrix(rng, 1, n+1, 0)
		y, _ := matrix(rng, 1, n+1, 0)
		want := append([]float32(nil), y...)
		got := append([]float32(nil), y...)
		axpyGeneric(-1.5, x[:n], want[:n])
		Axpy(-1.5, x, got[:n])
		if err := closeTo(got, want, 1); err != nil {
			t.Errorf("Axpy n=%d: %v", n, err)
		}
		d := Dot(x[:n], y)
		if err := closeTo([]float32{d}, []float32{dotGeneric(x[:n], y[:n])}, n); err != nil {
			t.Errorf("Dot n=%d: %v", n, err)
		}
	}
}

//go:build amd64 && !purego

package kernels

// GemmNT on the AVX-512 tiles: C = A·Bᵀ needs Bᵀ's rows (B's columns)
// contiguous, so each block of 32 rows of B is first transposed into a
// panel on the stack (ntPanelK×32 floats, 32 KiB; longer k runs in chunks
// that accumulate), which the broadcast tiles then read as an NN product.
// The transpose costs n·k copies against m·n·k multiply-adds, so products
// of fewer than ntTransposeMinRows rows keep the AVX2 dot tiles.

const (
	// ntPanelK is the number of B's columns (k) transposed at a time.
	ntPanelK = 256
	// ntTransposeMinRows is the number of rows of C from which the
	// transposed panel pays for itself (measured on the MLP's shapes:
	// BenchmarkGemmNT at 32 and 1024 rows).
	ntTransposeMinRows = 64
)

func gemmNTAVX512(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, mask []float32, ldm int) {
	if k <= 1 || m < ntTransposeMinRows {
		gemmNTAVX2(m, n, k, a, lda, b, ldb, c, ldc, mask, ldm)
		return
	}
	var panel [ntPanelK * 32]float32
	for j := 0; j < n; j += 32 {
		w := min(32, n-j)
		var extra []float32
		if mask != nil {
			extra = mask[j:]
		}
		for p0 := 0; p0 < k; p0 += ntPanelK {
			kc := min(ntPanelK, k-p0)
			transposePanel(&panel, b[j*ldb+p0:], ldb, w, kc)
			flags := 0
			if p0 > 0 {
				flags |= flagAcc
			}
			if mask != nil && p0+kc == k {
				flags |= flagMask
			}
			zTiles(m, w, kc, a[p0:], lda, 1, panel[:], 32, c[j:], ldc, extraIf(flags, extra), flags, ldm)
		}
	}
}

// transposePanel sets panel[p*32+r] = b[r*ldb+p] for r < w, p < kc.
func transposePanel(panel *[ntPanelK * 32]float32, b []float32, ldb, w, kc int) {
	for r := range w {
		row := b[r*ldb : r*ldb+kc]
		for p, v := range row {
			panel[p*32+r] = v
		}
	}
}

// extraIf returns the mask when flags ask for it, else nil.
func extraIf(flags int, mask []float32) []float32 {
	if flags&flagMask == 0 {
		return nil
	}
	return mask
}

package model

import (
	"math"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/kernels"
)

// attnHidden is the width of the hidden layer of DIN's activation unit, as
// in the DIN paper's experiments.
const attnHidden = 36

// attention is DIN's activation unit with weighted sum pooling (Zhou et
// al. 2018) over one history list (PosHistory or NegHistory) of a sample
// whose candidate item has embedding e_c:
//
//	u_h    = [e_h, e_c, e_h - e_c, e_h ⊙ e_c]             (4d values)
//	a_h    = relu(u_h·w1 + b1)·w2 + b2                     (a scalar)
//	pooled = (1/H) * Σ_h a_h e_h                           (d values)
//
// for each occurrence h in the list (repeats count each time), with e_h
// from the item table and H = max(Schema.HistoryLen, 1). The weights a_h
// are not normalised (no softmax), as in the paper, so pooled keeps the
// intensity of the user's interest; dividing by the fixed cap H (not by the
// list's length) keeps it at the scale of a mean over a full history
// without losing that intensity. An empty list pools to zero.
//
// w1 is 4d×attnHidden (He-normal), b1 is 1×attnHidden (zeros), w2 is
// attnHidden×1 (Glorot-normal) and b2 is 1×1, initialised to 1: embeddings
// start small, so a_h starts near 1 and the pooling starts as a scaled sum
// pooling instead of near zero, which would leave the history, and the
// unit's own gradient, inert at the start of training.
//
// With w1 split into its four d×attnHidden blocks [wa; wb; wc; wd] by
// input, u_h·w1 = e_h·(wa + wc) + (e_h ⊙ e_c)·wd + e_c·(wb - wc): the last
// term is computed once per sample, which halves the work per history row
// (2d inputs instead of 4d) in both passes.
type attention struct {
	item           *table
	neg            bool // pools NegHistory rather than PosHistory
	dim            int
	scale          float32 // 1/H
	histCap        int     // Schema.HistoryLen, to size buffers
	w1, b1, w2, b2 *dense
}

func newAttention(p *params, name string, item *table, neg bool, dim, historyLen int) *attention {
	in := 4 * dim
	return &attention{
		item:    item,
		neg:     neg,
		dim:     dim,
		scale:   1 / float32(max(historyLen, 1)),
		histCap: historyLen,
		w1:      p.dense(name+".0.weight", in, attnHidden, float32(math.Sqrt(2/float64(in)))),
		b1:      p.dense(name+".0.bias", 1, attnHidden, 0),
		w2:      p.dense(name+".1.weight", attnHidden, 1, float32(math.Sqrt(2/float64(attnHidden+1)))),
		b2:      p.constant(name+".1.bias", 1, 1, 1),
	}
}

// hist returns the history list the unit pools.
func (u *attention) hist(s *data.Sample) []int32 {
	if u.neg {
		return s.NegHistory()
	}
	return s.PosHistory()
}

// attnWork holds the intermediates of one activation unit over a batch of
// n samples with R history rows in all (samples in order, then their
// history occurrences in order); A = attnHidden.
type attnWork struct {
	n, rows int
	ncap    int // samples the per-sample buffers hold
	rcap    int // rows the forward row buffers hold
	bcap    int // rows the backward row buffers hold

	// Per parameter set: m = [wa + wc; wd] (2d×A), q = wb - wc (d×A), and
	// their gradients.
	m, q, dm, dq []float32

	// Per sample: e_c (n×d), c = e_c·q (n×A), and their gradients.
	ec, c, dec, dc []float32

	// Per history row: v = [e_h, e_h ⊙ e_c] (R×2d), the hidden layer
	// (R×A) and a_h (R), and their gradients.
	v, hid, a, dv, dhid, da []float32
}

// maxPresizeRows bounds the rows attnWork sizes its buffers for ahead of
// need (with d = 16, 16384 rows of forward buffers take 4.5 MB).
const maxPresizeRows = 1 << 14

// ensure sizes w for n samples and R rows, the backward buffers too when
// backward is set. Row buffers grow to at least min(want, maxPresizeRows)
// rows, so that batches whose histories keep within the cap usually never
// reallocate.
func (w *attnWork) ensure(d, n, R, want int, backward bool) {
	const A = attnHidden
	if w.m == nil {
		w.m = make([]float32, 2*d*A)
		w.q = make([]float32, d*A)
		w.dm = make([]float32, 2*d*A)
		w.dq = make([]float32, d*A)
	}
	if n > w.ncap {
		w.ncap = n
		w.ec = make([]float32, n*d)
		w.c = make([]float32, n*A)
		w.dec = make([]float32, n*d)
		w.dc = make([]float32, n*A)
	}
	want = min(want, maxPresizeRows)
	if R > w.rcap {
		k := max(R, want)
		w.rcap = k
		w.v = make([]float32, k*2*d)
		w.hid = make([]float32, k*A)
		w.a = make([]float32, k)
	}
	if backward && R > w.bcap {
		k := max(R, want)
		w.bcap = k
		w.dv = make([]float32, k*2*d)
		w.dhid = make([]float32, k*A)
		w.da = make([]float32, k)
	}
}

// forward writes the pooled history of batch[i] into x[i*ld+off:][:dim],
// keeping in w what backward needs. samples is the workspace's capacity in
// samples, to size w.
func (u *attention) forward(w *attnWork, batch []data.Sample, x []float32, ld, off, samples int) {
	const A = attnHidden
	d, n := u.dim, len(batch)
	R := 0
	for i := range batch {
		R += len(u.hist(&batch[i]))
	}
	w.n, w.rows = n, R
	w.ensure(d, max(n, samples), R, samples*min(u.histCap, maxPresizeRows), false)
	for i := range batch {
		dst := x[i*ld+off : i*ld+off+d]
		clear(dst)
	}
	if R == 0 {
		return
	}
	// m = [wa + wc; wd], q = wb - wc.
	w1 := u.w1.data
	wa, wb, wc, wd := w1[:d*A], w1[d*A:2*d*A], w1[2*d*A:3*d*A], w1[3*d*A:4*d*A]
	for j := range d * A {
		w.m[j] = wa[j] + wc[j]
		w.q[j] = wb[j] - wc[j]
	}
	copy(w.m[d*A:], wd)
	r := 0
	for i := range batch {
		s := &batch[i]
		ec := u.item.row(s.Item)
		copy(w.ec[i*d:i*d+d], ec)
		for _, h := range u.hist(s) {
			eh := u.item.row(h)
			row := w.v[r*2*d : r*2*d+2*d]
			copy(row[:d], eh)
			prod := row[d:]
			for j, v := range eh {
				prod[j] = v * ec[j]
			}
			r++
		}
	}
	kernels.GemmNN(n, A, d, w.ec, d, w.q, A, w.c, A, nil, false)
	hid := w.hid[:R*A]
	kernels.GemmNN(R, A, 2*d, w.v, 2*d, w.m, A, hid, A, nil, false)
	b1, w2, b2 := u.b1.data[:A], u.w2.data[:A], u.b2.data[0]
	r = 0
	for i := range batch {
		c := w.c[i*A : i*A+A]
		dst := x[i*ld+off : i*ld+off+d]
		for range u.hist(&batch[i]) {
			row := hid[r*A : r*A+A]
			var s float32
			for j, v := range row {
				v = max(v+c[j]+b1[j], 0)
				row[j] = v
				s += v * w2[j]
			}
			a := s + b2
			w.a[r] = a
			axpy(a, w.v[r*2*d:r*2*d+d], dst)
			r++
		}
		scale(dst, u.scale)
	}
}

// backward accumulates the unit's and the item embeddings' gradients given
// the gradient of the pooled histories in dx (forward's layout) and the
// state forward left in w for the same batch.
func (u *attention) backward(w *attnWork, batch []data.Sample, dx []float32, ld, off int) {
	const A = attnHidden
	d, n, R := u.dim, w.n, w.rows
	if R == 0 {
		return
	}
	w.ensure(d, w.ncap, R, w.rcap, true)
	// pooled = scale Σ a_h e_h: da_h = scale <g, e_h>. a_h = hid_h·w2 + b2,
	// hid_h = relu(pre_h): dpre_h = da_h w2 where hid_h > 0. dc_i is the sum
	// of dpre over the sample's rows.
	hid, dhid := w.hid[:R*A], w.dhid[:R*A]
	gw2, gb1, w2 := u.w2.grad[:A], u.b1.grad[:A], u.w2.data[:A]
	var gb2 float32
	r := 0
	for i := range batch {
		g := dx[i*ld+off : i*ld+off+d]
		dc := w.dc[i*A : i*A+A]
		clear(dc)
		for range u.hist(&batch[i]) {
			da := u.scale * dot(g, w.v[r*2*d:r*2*d+d])
			w.da[r] = da
			gb2 += da
			hrow, drow := hid[r*A:r*A+A], dhid[r*A:r*A+A]
			for j, v := range hrow {
				gw2[j] += da * v
				g := float32(0)
				if v > 0 {
					g = da * w2[j]
				}
				drow[j] = g
				dc[j] += g
			}
			r++
		}
		add(gb1, dc)
	}
	u.b2.grad[0] += gb2
	// dm = vᵀ·dpre, dq = e_cᵀ·dc; dw1 = [dm_a; dq; dm_a - dq; dm_d].
	clear(w.dm[:2*d*A])
	clear(w.dq[:d*A])
	kernels.GemmTN(2*d, A, R, w.v, 2*d, dhid, A, w.dm, A)
	kernels.GemmTN(d, A, n, w.ec, d, w.dc, A, w.dq, A)
	gw := u.w1.grad
	ga, gb, gc, gd := gw[:d*A], gw[d*A:2*d*A], gw[2*d*A:3*d*A], gw[3*d*A:4*d*A]
	for j := range d * A {
		dma, dq := w.dm[j], w.dq[j]
		ga[j] += dma
		gb[j] += dq
		gc[j] += dma - dq
	}
	add(gd, w.dm[d*A:])
	// dv = dpre·mᵀ, de_c (the part through c) = dc·qᵀ.
	dv := w.dv[:R*2*d]
	kernels.GemmNT(R, 2*d, A, dhid, A, w.m, A, dv, 2*d, nil, 0)
	kernels.GemmNT(n, d, A, w.dc, A, w.q, A, w.dec, d, nil, 0)
	// v = [e_h, e_h ⊙ e_c], plus the pooling's scale*a_h*g for e_h.
	// gradRow's slice is valid until the next call: e_c's gradient is
	// accumulated in dec, then added once per sample.
	r = 0
	for i := range batch {
		s := &batch[i]
		g := dx[i*ld+off : i*ld+off+d]
		ec := w.ec[i*d : i*d+d]
		dec := w.dec[i*d : i*d+d]
		hs := u.hist(s)
		for _, h := range hs {
			gv := dv[r*2*d : r*2*d+2*d]
			eh := w.v[r*2*d : r*2*d+d]
			c := u.scale * w.a[r]
			gh := u.item.gradRow(h)
			for j := range d {
				gh[j] += c*g[j] + gv[j] + gv[d+j]*ec[j]
				dec[j] += gv[d+j] * eh[j]
			}
			r++
		}
		if len(hs) > 0 {
			add(u.item.gradRow(s.Item), dec)
		}
	}
}

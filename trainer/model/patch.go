package model

import (
	"errors"
	"fmt"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// A patch is a replica's per-user personalisation in the MetaPatch style:
// the backbone (every embedding row and dense parameter of the base) stays
// frozen and the user trains only a few vectors.
//
// For an architecture with an MLP (Wide&Deep, DeepFM, PNN, DIN) the patch
// is a FiLM modulation of each hidden layer's output: with r the layer's
// ReLU output,
//
//	h = r ⊙ (1 + scale) + shift
//
// and h feeds the next layer. scale and shift ("patch.mlp.<l>.scale",
// "patch.mlp.<l>.shift", one value per hidden unit) start at 0, so an
// empty patch is the identity.
//
// LR has no MLP. Its patch scales each of the five terms of its logit and
// shifts it:
//
//	z = bias + shift + Σ_f (1 + scale[f]) · term_f
//
// with term_f the user, item, mean category, mean positive-history and
// mean negative-history weights ("patch.linear.scale", 5 values, and
// "patch.linear.shift", 1). A scalar scale and shift of the whole logit
// would change no user's ranking, hence no user's AUC; scaling the terms
// separately re-weights the item, category and history evidence per user.
// (The user term and the shift are constant within a user: they only
// recalibrate the user's probabilities.)
type patch struct {
	vecs []*dense // in declaration order: scale then shift, layer by layer
	deep *mlp     // the patched MLP, nil for LR
	lr   *lr      // the patched LR network, nil for the others
	// only: the backbone is frozen, so backward stops at the patch.
	only bool
}

// patchShape returns the names and widths of the patch vectors of net.
func patchShape(net network) (names []string, widths []int) {
	if dn, ok := net.(interface{ mlpPart() *mlp }); ok {
		m := dn.mlpPart()
		for l := 0; l < len(m.b); l++ {
			w := m.widths[l+1]
			names = append(names, fmt.Sprintf("patch.mlp.%d.scale", l), fmt.Sprintf("patch.mlp.%d.shift", l))
			widths = append(widths, w, w)
		}
		return names, widths
	}
	return []string{"patch.linear.scale", "patch.linear.shift"}, []int{numFields, 1}
}

// patchLen is the number of values of net's patch.
func patchLen(net network) int {
	_, widths := patchShape(net)
	n := 0
	for _, w := range widths {
		n += w
	}
	return n
}

func (n *wideDeep) mlpPart() *mlp { return n.deep }
func (n *pnn) mlpPart() *mlp      { return n.deep }
func (n *dinNet) mlpPart() *mlp   { return n.deep }

// UsePatch switches the replica's scope. On, the replica trains only its
// patch (see patch): every dense parameter is frozen (FreezeDense) and
// training writes no embedding row, so its Delta holds the patch alone. Off
// (the default), the replica has no patch and its dense parameters are
// thawed. Switching resets the replica.
func (r *Replica) UsePatch(on bool) {
	r.Reset()
	if on {
		r.enablePatch(true)
	} else {
		r.disablePatch()
	}
	r.FreezeDense(on)
}

// HasPatch reports whether the replica trains a patch (UsePatch).
func (r *Replica) HasPatch() bool { return r.patch != nil }

// enablePatch gives m a zero patch; only makes backward stop at it. A
// patch on a model whose backbone also trains (only false) is for the
// gradient checks.
func (m *Model) enablePatch(only bool) {
	if m.patch != nil {
		m.patch.only = only
		return
	}
	pt := &patch{only: only}
	names, widths := patchShape(m.net)
	for i, name := range names {
		d := &dense{name: name, rows: 1, cols: widths[i]}
		d.data = make([]float32, d.cols)
		d.grad = make([]float32, d.cols)
		if m.p.trainReady {
			d.state = make([]float32, d.cols*m.p.stateLen)
		}
		pt.vecs = append(pt.vecs, d)
	}
	if dn, ok := m.net.(interface{ mlpPart() *mlp }); ok {
		pt.deep = dn.mlpPart()
		pt.deep.film = pt.vecs
	} else {
		pt.lr = m.net.(*lr)
		pt.lr.film = pt.vecs
	}
	m.patch = pt
	m.p.patch = pt.vecs
}

func (m *Model) disablePatch() {
	if m.patch == nil {
		return
	}
	if m.patch.deep != nil {
		m.patch.deep.film = nil
	} else {
		m.patch.lr.film = nil
	}
	m.patch, m.p.patch = nil, nil
}

// patchDirty reports whether the patch was trained or written since Reset.
func (m *Model) patchDirty() bool {
	if m.patch == nil {
		return false
	}
	for _, d := range m.patch.vecs {
		if d.dirty {
			return true
		}
	}
	return false
}

// patchValues returns a copy of the patch's values, nil when it is still
// the identity of Reset.
func (m *Model) patchValues() []float32 {
	if !m.patchDirty() {
		return nil
	}
	var v []float32
	for _, d := range m.patch.vecs {
		v = append(v, d.data...)
	}
	return v
}

// setPatch writes v (patchLen values) into the patch.
func (m *Model) setPatch(v []float32) error {
	if m.patch == nil {
		return errors.New("the replica has no patch")
	}
	off := 0
	for _, d := range m.patch.vecs {
		copy(d.data, v[off:off+len(d.data)])
		d.dirty = true
		off += len(d.data)
	}
	return nil
}

// resetPatch returns the patch vectors to zero (the identity) with empty
// optimizer state.
func (p *params) resetPatch() {
	for _, d := range p.patch {
		if d.dirty {
			clear(d.data)
			d.dirty = false
		}
		clear(d.state)
		d.steps = 0
	}
}

// backward is the backward pass of a patch-only model: the gradient of
// the patch vectors alone, given dL/dz in ws.dz.
func (pt *patch) backward(ws *workspace, batch []data.Sample) {
	if pt.deep != nil {
		pt.deep.backwardTo(ws, len(batch), ws.dz, false)
		return
	}
	pt.lr.backwardPatch(ws, batch, false)
}

// preLayer returns the buffer of the ReLU outputs of hidden layer l before
// its FiLM, for n samples, growing it (to the workspace's capacity) when
// needed.
func (w *workspace) preLayer(l, n int) []float32 {
	if w.pre == nil {
		w.pre = make([][]float32, len(w.h))
	}
	size := n * w.widths[l+1]
	if cap(w.pre[l]) < size {
		w.pre[l] = make([]float32, max(w.cap, n)*w.widths[l+1])
	}
	return w.pre[l][:size]
}

// filmForward writes h = r ⊙ (1 + scale) + shift row by row (width values
// per row).
func filmForward(r, h []float32, scale, shift *dense, width int) {
	s, t := scale.data[:width], shift.data[:width]
	for o := 0; o+width <= len(r); o += width {
		ri, hi := r[o:o+width], h[o:o+width]
		for j := range ri {
			hi[j] = ri[j]*(1+s[j]) + t[j]
		}
	}
}

// filmBackward takes dh = dL/dh (the FiLM's output) in place to the
// gradient of the layer's pre-activation, dL/dr ⊙ (r > 0), and
// accumulates the gradients of scale and shift.
func filmBackward(r, dh []float32, scale, shift *dense, width int) {
	s := scale.data[:width]
	gs, gt := scale.grad[:width], shift.grad[:width]
	for o := 0; o+width <= len(r); o += width {
		ri, di := r[o:o+width], dh[o:o+width]
		for j, g := range di {
			gt[j] += g
			gs[j] += g * ri[j]
			if ri[j] > 0 {
				di[j] = g * (1 + s[j])
			} else {
				di[j] = 0
			}
		}
	}
}

// lrTerms returns the workspace buffer of the LR terms of n samples.
func (w *workspace) lrTerms(n int) []float32 {
	size := n * numFields
	if cap(w.terms) < size {
		w.terms = make([]float32, max(w.cap, n)*numFields)
	}
	return w.terms[:size]
}

// forwardPatch is LR's forward pass with its patch.
func (n *lr) forwardPatch(ws *workspace, batch []data.Sample) {
	l := n.lin
	terms := ws.lrTerms(len(batch))
	scale, shift := n.film[0].data, n.film[1].data[0]
	b := l.bias.data[0]
	for i := range batch {
		s := &batch[i]
		t := terms[i*numFields : (i+1)*numFields]
		t[0], t[1] = l.user.at(s.User), l.item.at(s.Item)
		t[2], t[3], t[4] = meanAt(l.cat, s.Categories()), meanAt(l.pos, s.PosHistory()), meanAt(l.neg, s.NegHistory())
		z := b + shift
		for f, v := range t {
			z += (1 + scale[f]) * v
		}
		ws.z[i] = z
	}
}

// backwardPatch accumulates the gradients of LR's patch and, with
// backbone, of its weights, given dL/dz in ws.dz.
func (n *lr) backwardPatch(ws *workspace, batch []data.Sample, backbone bool) {
	l := n.lin
	terms := ws.terms
	scale := n.film[0].data
	gs, gt := n.film[0].grad, n.film[1].grad
	var sum float32
	for i := range batch {
		g := ws.dz[i]
		sum += g
		t := terms[i*numFields : (i+1)*numFields]
		for f, v := range t {
			gs[f] += g * v
		}
		if !backbone {
			continue
		}
		s := &batch[i]
		l.user.gradRow(s.User)[0] += g * (1 + scale[0])
		l.item.gradRow(s.Item)[0] += g * (1 + scale[1])
		spreadAt(l.cat, s.Categories(), g*(1+scale[2]))
		spreadAt(l.pos, s.PosHistory(), g*(1+scale[3]))
		spreadAt(l.neg, s.NegHistory(), g*(1+scale[4]))
	}
	gt[0] += sum
	if backbone {
		l.bias.grad[0] += sum
	}
}

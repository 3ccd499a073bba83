package model

import "github.com/lcft-dev/lcft-operator/trainer/data"

// dinNet is the DIN architecture (Zhou et al. 2018): Wide&Deep with the
// mean pooling of the two histories replaced by attention pooling with
// respect to the candidate item, one activation unit per history.
type dinNet struct {
	lin      *linear
	emb      *fields
	pos, neg *attention
	deep     *mlp
}

func buildDIN(p *params, c Config, s data.Schema) network {
	// Declaration order is artifact order.
	d := c.EmbeddingDim
	lin := newLinear(p, s)
	emb := newFields(p, s, d, c.embedStd())
	pos := newAttention(p, "attention.pos", emb.item, false, d, s.HistoryLen)
	neg := newAttention(p, "attention.neg", emb.item, true, d, s.HistoryLen)
	deep := newMLP(p, numFields*d, c.HiddenUnits)
	return &dinNet{lin: lin, emb: emb, pos: pos, neg: neg, deep: deep}
}

func (n *dinNet) widths() []int { return n.deep.widths }

func (n *dinNet) forward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	in := n.deep.widths[0]
	d := n.emb.dim
	n.lin.forward(batch, ws.z)
	for i := range batch {
		n.emb.forwardIDs(&batch[i], ws.x[i*in:i*in+3*d])
	}
	n.pos.forward(&ws.attn[0], batch, ws.x, in, 3*d, ws.cap)
	n.neg.forward(&ws.attn[1], batch, ws.x, in, 4*d, ws.cap)
	n.deep.forward(ws, b)
	out := ws.h[len(ws.h)-1]
	for i := range b {
		ws.z[i] += out[i]
	}
}

func (n *dinNet) backward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	in := n.deep.widths[0]
	d := n.emb.dim
	n.lin.backward(batch, ws.dz)
	n.deep.backward(ws, b, ws.dz)
	for i := range batch {
		n.emb.backwardIDs(&batch[i], ws.dx[i*in:i*in+3*d])
	}
	n.pos.backward(&ws.attn[0], batch, ws.dx, in, 3*d)
	n.neg.backward(&ws.attn[1], batch, ws.dx, in, 4*d)
}

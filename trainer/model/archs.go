package model

import "github.com/lcft-dev/lcft-operator/trainer/data"

// lr is the LR architecture: the linear part alone.
type lr struct {
	lin  *linear
	film []*dense // a replica's patch (patch.go): term scales and shift, or nil
}

func buildLR(p *params, _ Config, s data.Schema) network {
	return &lr{lin: newLinear(p, s)}
}

func (*lr) widths() []int { return nil }

func (n *lr) forward(ws *workspace, batch []data.Sample) {
	if n.film != nil {
		n.forwardPatch(ws, batch)
		return
	}
	n.lin.forward(batch, ws.z)
}

func (n *lr) backward(ws *workspace, batch []data.Sample) {
	if n.film != nil {
		n.backwardPatch(ws, batch, true)
		return
	}
	n.lin.backward(batch, ws.dz)
}

// wideDeep is the Wide&Deep architecture: the linear part plus an MLP over
// the embedded fields.
type wideDeep struct {
	lin  *linear
	emb  *fields
	deep *mlp
}

func buildWideDeep(p *params, c Config, s data.Schema) network {
	// Declaration order is artifact order.
	lin := newLinear(p, s)
	emb := newFields(p, s, c.EmbeddingDim, c.embedStd())
	deep := newMLP(p, numFields*c.EmbeddingDim, c.HiddenUnits)
	return &wideDeep{lin: lin, emb: emb, deep: deep}
}

func (n *wideDeep) widths() []int { return n.deep.widths }

func (n *wideDeep) forward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	in := n.deep.widths[0]
	n.lin.forward(batch, ws.z)
	n.emb.forward(batch, ws.x, in)
	n.deep.forward(ws, b)
	out := ws.h[len(ws.h)-1]
	for i := range b {
		ws.z[i] += out[i]
	}
}

func (n *wideDeep) backward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	n.lin.backward(batch, ws.dz)
	n.deep.backward(ws, b, ws.dz)
	n.emb.backward(batch, ws.dx, n.deep.widths[0])
}

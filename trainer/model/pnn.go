package model

import "github.com/lcft-dev/lcft-operator/trainer/data"

// numPairs is the number of pairs of distinct fields.
const numPairs = numFields * (numFields - 1) / 2

// pnn is the inner-product PNN architecture (IPNN, Qu et al. 2016): an MLP
// over the product layer, which is the five field vectors (the linear
// signal) followed by their 10 pairwise inner products, plus a bias. As in
// the paper it has no first-order (wide) part.
type pnn struct {
	emb  *fields
	bias *dense // 1×1
	deep *mlp
}

func buildPNN(p *params, c Config, s data.Schema) network {
	// Declaration order is artifact order.
	emb := newFields(p, s, c.EmbeddingDim, c.embedStd())
	bias := p.dense("output.bias", 1, 1, 0)
	deep := newMLP(p, numFields*c.EmbeddingDim+numPairs, c.HiddenUnits)
	return &pnn{emb: emb, bias: bias, deep: deep}
}

func (n *pnn) widths() []int { return n.deep.widths }

func (n *pnn) forward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	in := n.deep.widths[0]
	d := n.emb.dim
	n.emb.forward(batch, ws.x, in)
	for i := range b {
		row := ws.x[i*in : i*in+in]
		k := numFields * d
		for f := range numFields {
			for g := f + 1; g < numFields; g++ {
				row[k] = dot(row[f*d:f*d+d], row[g*d:g*d+d])
				k++
			}
		}
	}
	n.deep.forward(ws, b)
	out := ws.h[len(ws.h)-1]
	bias := n.bias.data[0]
	for i := range b {
		ws.z[i] = bias + out[i]
	}
}

func (n *pnn) backward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	in := n.deep.widths[0]
	d := n.emb.dim
	var sum float32
	for _, g := range ws.dz[:b] {
		sum += g
	}
	n.bias.grad[0] += sum
	n.deep.backward(ws, b, ws.dz)
	// d<v_f, v_g>/dv_f = v_g: fold the products' gradients into the field
	// vectors' (which the linear signal's gradient already holds).
	for i := range b {
		x := ws.x[i*in : i*in+in]
		dx := ws.dx[i*in : i*in+in]
		k := numFields * d
		for f := range numFields {
			for g := f + 1; g < numFields; g++ {
				gp := dx[k]
				axpy(gp, x[g*d:g*d+d], dx[f*d:f*d+d])
				axpy(gp, x[f*d:f*d+d], dx[g*d:g*d+d])
				k++
			}
		}
	}
	n.emb.backward(batch, ws.dx, in)
}

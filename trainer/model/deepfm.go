package model

import "github.com/lcft-dev/lcft-operator/trainer/data"

// deepFM is the DeepFM architecture (Guo et al. 2017): the linear part
// (first order), a factorisation machine over the five field vectors
// (second order) and an MLP over the same field vectors, which share their
// embeddings between the FM and the deep part.
type deepFM struct {
	wideDeep // the linear part, the field embeddings and the MLP
}

func buildDeepFM(p *params, c Config, s data.Schema) network {
	// Declared as Wide&Deep's parameters, in the same (artifact) order.
	return &deepFM{*buildWideDeep(p, c, s).(*wideDeep)}
}

func (n *deepFM) forward(ws *workspace, batch []data.Sample) {
	n.wideDeep.forward(ws, batch)
	in := n.deep.widths[0]
	for i := range batch {
		ws.z[i] += fm(ws.x[i*in:i*in+in], n.emb.dim)
	}
}

func (n *deepFM) backward(ws *workspace, batch []data.Sample) {
	b := len(batch)
	in := n.deep.widths[0]
	d := n.emb.dim
	n.lin.backward(batch, ws.dz)
	n.deep.backward(ws, b, ws.dz)
	// d fm / d v[f][k] = S[k] - v[f][k], S[k] = sum_f v[f][k].
	for i := range b {
		g := ws.dz[i]
		v := ws.x[i*in : i*in+in]
		dv := ws.dx[i*in : i*in+in]
		for k := range d {
			var s float32
			for f := range numFields {
				s += v[f*d+k]
			}
			for f := range numFields {
				dv[f*d+k] += g * (s - v[f*d+k])
			}
		}
	}
	n.emb.backward(batch, ws.dx, in)
}

// fm returns the second-order factorisation-machine term of the numFields
// field vectors v[f*d:(f+1)*d]: 0.5 * sum_k ((sum_f v[f][k])² - sum_f
// v[f][k]²), which is the sum of their pairwise inner products.
func fm(v []float32, d int) float32 {
	var t float32
	for k := range d {
		var s, q float32
		for f := range numFields {
			x := v[f*d+k]
			s += x
			q += x * x
		}
		t += s*s - q
	}
	return t / 2
}

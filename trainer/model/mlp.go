package model

import (
	"fmt"
	"math"

	"github.com/lcft-dev/lcft-operator/trainer/kernels"
)

// mlp is a multi-layer perceptron with ReLU hidden layers and one linear
// output unit without bias: for input x (n×widths[0]),
//
//	h[l] = relu(h[l-1]·w[l] + b[l])   for hidden layers, h[-1] = x
//	out  = h[L-2]·w[L-1]              (n×1)
//
// w[l] is widths[l]×widths[l+1], b[l] is 1×widths[l+1]. Hidden weights are
// initialised He-normal (std sqrt(2/fanIn)), the output weights
// Glorot-normal (std sqrt(2/(fanIn+fanOut))), biases at 0.
type mlp struct {
	widths []int
	w, b   []*dense // len(b) == len(w)-1
	// film is a replica's patch (patch.go): scale and shift of each hidden
	// layer, 2*len(b) vectors, or nil.
	film []*dense
}

// newMLP declares an MLP from in inputs through hidden to 1 output.
func newMLP(p *params, in int, hidden []int) *mlp {
	widths := append(append([]int{in}, hidden...), 1)
	m := &mlp{widths: widths}
	for l := 0; l+1 < len(widths); l++ {
		fanIn, fanOut := widths[l], widths[l+1]
		if l+2 < len(widths) {
			std := float32(math.Sqrt(2 / float64(fanIn)))
			m.w = append(m.w, p.dense(fmt.Sprintf("mlp.%d.weight", l), fanIn, fanOut, std))
			m.b = append(m.b, p.dense(fmt.Sprintf("mlp.%d.bias", l), 1, fanOut, 0))
		} else {
			std := float32(math.Sqrt(2 / float64(fanIn+fanOut)))
			m.w = append(m.w, p.dense(fmt.Sprintf("mlp.%d.weight", l), fanIn, fanOut, std))
		}
	}
	return m
}

// forward computes ws.h for the n samples whose inputs are in ws.x. The
// output (n×1) is ws.h[len(ws.h)-1].
func (m *mlp) forward(ws *workspace, n int) {
	in := ws.x
	for l, w := range m.w {
		k, out := m.widths[l], m.widths[l+1]
		h := ws.h[l][:n*out]
		switch {
		case l < len(m.b) && m.film != nil:
			// r = relu(in·w + b), then h = r ⊙ (1 + scale) + shift.
			r := ws.preLayer(l, n)
			kernels.GemmNN(n, out, k, in, k, w.data, out, r, out, m.b[l].data, true)
			filmForward(r, h, m.film[2*l], m.film[2*l+1], out)
		case l < len(m.b):
			// h = relu(in·w + b), fused in one pass over h.
			kernels.GemmNN(n, out, k, in, k, w.data, out, h, out, m.b[l].data, true)
		default:
			kernels.GemmNN(n, out, k, in, k, w.data, out, h, out, nil, false)
		}
		in = h
	}
}

// backward accumulates the weight and bias gradients given dout = dL/dout
// (n values) and writes dL/dx into ws.dx.
func (m *mlp) backward(ws *workspace, n int, dout []float32) {
	m.backwardTo(ws, n, dout, true)
}

// backwardTo is backward; without input it leaves ws.dx alone (a
// patch-only model, where nothing below the MLP trains).
func (m *mlp) backwardTo(ws *workspace, n int, dout []float32, input bool) {
	L := len(m.w)
	copy(ws.dh[L-1][:n], dout[:n])
	for l := L - 1; l >= 0; l-- {
		k, out := m.widths[l], m.widths[l+1]
		dh := ws.dh[l][:n*out]
		in := ws.x
		if l > 0 {
			in = ws.h[l-1]
		}
		if l < len(m.b) && !m.b[l].frozen {
			// dh is already masked by the ReLU derivative; sum over samples.
			gb := m.b[l].grad
			for i := 0; i < n; i++ {
				add(gb, dh[i*out:i*out+out])
			}
		}
		// dW += inᵀ·dh, unless W is frozen (its gradient would be dropped).
		if !m.w[l].frozen {
			kernels.GemmTN(k, out, n, in, k, dh, out, m.w[l].grad, out)
		}
		// d(in) = dh·Wᵀ; for a hidden input, masked by the ReLU that
		// produced it (zero where in ≤ 0), fused in one pass over d(in).
		// With a patch, the FiLM between them is taken back first.
		switch {
		case l > 0 && m.film != nil:
			kernels.GemmNT(n, k, out, dh, out, m.w[l].data, out, ws.dh[l-1][:n*k], k, nil, 0)
			filmBackward(ws.pre[l-1][:n*k], ws.dh[l-1][:n*k], m.film[2*(l-1)], m.film[2*(l-1)+1], k)
		case l > 0:
			kernels.GemmNT(n, k, out, dh, out, m.w[l].data, out, ws.dh[l-1][:n*k], k, ws.h[l-1][:n*k], k)
		case input:
			kernels.GemmNT(n, k, out, dh, out, m.w[l].data, out, ws.dx[:n*k], k, nil, 0)
		}
	}
}

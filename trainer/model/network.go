package model

import "github.com/lcft-dev/lcft-operator/trainer/data"

// network is the forward and backward pass of one architecture over its
// parameter set. Batches are validated before they reach a network.
type network interface {
	// widths returns the layer widths of the workspace's dense activations:
	// widths[0] is the width of the input x, widths[l+1] that of the output
	// of layer l. It is nil for a network without dense layers.
	widths() []int

	// forward writes the logits of batch into ws.z[:len(batch)], keeping
	// what backward needs in ws.
	forward(ws *workspace, batch []data.Sample)

	// backward accumulates the gradient of the loss into the parameters'
	// gradients, given dL/dz in ws.dz[:len(batch)] and the state left in ws
	// by forward on the same batch.
	backward(ws *workspace, batch []data.Sample)
}

// workspace holds the per-batch intermediates of a network. Buffers are
// sized for cap samples and grow when a larger batch comes.
type workspace struct {
	cap    int
	widths []int
	z, dz  []float32   // logits and dL/dz, one per sample
	x, dx  []float32   // input of the dense layers and its gradient, n×widths[0]
	h, dh  [][]float32 // output of layer l and its gradient, n×widths[l+1]

	// pre holds, when the MLP has a patch, each hidden layer's ReLU output
	// before its FiLM (n×widths[l+1]); terms, when LR has a patch, its five
	// logit terms per sample. Both size themselves.
	pre   [][]float32
	terms []float32

	// attn holds DIN's activation-unit intermediates for the positive
	// (attn[0]) and negative (attn[1]) histories; they size themselves.
	attn [2]attnWork
}

func newWorkspace(widths []int) *workspace {
	w := &workspace{widths: widths}
	if len(widths) > 0 {
		w.h = make([][]float32, len(widths)-1)
		w.dh = make([][]float32, len(widths)-1)
	}
	return w
}

// ensure makes room for n samples.
func (w *workspace) ensure(n int) {
	if n <= w.cap {
		return
	}
	w.cap = n
	w.z = make([]float32, n)
	w.dz = make([]float32, n)
	if len(w.widths) == 0 {
		return
	}
	w.x = make([]float32, n*w.widths[0])
	w.dx = make([]float32, n*w.widths[0])
	for l := range w.h {
		w.h[l] = make([]float32, n*w.widths[l+1])
		w.dh[l] = make([]float32, n*w.widths[l+1])
	}
}

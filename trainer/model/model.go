package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// Model is a CTR model: an architecture with its parameters. A Model is
// either a base model (from New or Load) or the Model inside a Replica.
//
// Predict is safe for concurrent use as long as no goroutine trains the
// model (or, for a replica, its base). TrainStep, Fork and Reset are not
// safe for concurrent use on the same model.
type Model struct {
	cfg    Config
	schema data.Schema
	p      *params
	net    network
	ws     *workspace // training workspace
	pool   *sync.Pool // *workspace for Predict, shared with replicas
	prov   Provenance // of a base model; replicas read their base's
	patch  *patch     // a replica's patch (UsePatch), nil otherwise

	// version counts the training steps of a base model; a replica
	// remembers the base's version at Fork or Reset and refuses to run when
	// the base has changed since.
	version uint64
	base    *Model // the base of a replica, nil for a base model
	forked  uint64 // base.version at Fork or Reset
}

// predictChunk is the number of samples Predict runs through the network
// at once, which bounds its workspace.
const predictChunk = 256

// New returns a model of architecture cfg.Arch sized by schema, with
// parameters initialised from cfg.Seed: linear weights and biases at 0,
// embeddings N(0, std²) (Config.EmbeddingInitStd, default 0.05), MLP and DIN activation-unit weights He-normal
// (hidden) or Glorot-normal (output), their hidden biases at 0 and the
// activation units' output biases at 1 (so that DIN's pooling starts as a
// sum pooling of the history).
func New(cfg Config, schema data.Schema) (*Model, error) {
	m, err := build(cfg, schema)
	if err != nil {
		return nil, err
	}
	m.p.initialise(cfg.Seed)
	return m, nil
}

// build validates cfg and schema and declares the parameters without
// allocating them.
func build(cfg Config, schema data.Schema) (*Model, error) {
	a, err := validate(cfg, schema)
	if err != nil {
		return nil, err
	}
	cfg.HiddenUnits = slices.Clone(cfg.HiddenUnits)
	if !a.deep {
		cfg.EmbeddingDim, cfg.HiddenUnits = 0, nil
	}
	p := &params{}
	m := &Model{cfg: cfg, schema: schema, p: p, net: a.build(p, cfg, schema)}
	widths := m.net.widths()
	m.pool = &sync.Pool{New: func() any {
		ws := newWorkspace(widths)
		ws.ensure(predictChunk)
		return ws
	}}
	return m, nil
}

// Architectures returns the accepted values of Config.Arch, sorted.
func Architectures() []string {
	names := make([]string, 0, len(archs))
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Config returns the model's configuration. LR models report EmbeddingDim 0
// and no HiddenUnits.
func (m *Model) Config() Config {
	c := m.cfg
	c.HiddenUnits = slices.Clone(c.HiddenUnits)
	return c
}

// Schema returns the schema the model was sized for.
func (m *Model) Schema() data.Schema { return m.schema }

// NumParams returns the number of float32 parameters.
func (m *Model) NumParams() int { return m.p.count() }

// Predict writes the logit of each sample of batch into logits, which must
// have len(batch) values. Probabilities are Sigmoid(logit); rankings and AUC
// can use logits directly. Predict allocates nothing in steady state.
func (m *Model) Predict(batch []data.Sample, logits []float32) error {
	if len(logits) != len(batch) {
		return fmt.Errorf("model: predict: %d logits for %d samples", len(logits), len(batch))
	}
	if err := m.check(batch); err != nil {
		return fmt.Errorf("model: predict: %w", err)
	}
	ws := m.pool.Get().(*workspace)
	defer m.pool.Put(ws)
	for lo := 0; lo < len(batch); lo += predictChunk {
		hi := min(lo+predictChunk, len(batch))
		m.net.forward(ws, batch[lo:hi])
		copy(logits[lo:hi], ws.z[:hi-lo])
	}
	return nil
}

// TrainStep runs one optimisation step on batch with the given labels (soft
// labels, any finite real values, one per sample; they replace
// batch[i].Label, which TrainStep ignores). It returns the batch's mean
// binary cross-entropy before the update. Only the embedding rows the batch
// touches are read and updated. The first steps size the training buffers;
// later steps of no larger batches allocate nothing.
//
// On error (empty or invalid batch, labels of the wrong length or not
// finite, nil optimizer) the model is unchanged.
func (m *Model) TrainStep(batch []data.Sample, labels []float32, opt optim.Optimizer) (float32, error) {
	loss, err := m.gradients(batch, labels, opt)
	if err != nil {
		return 0, fmt.Errorf("model: train step: %w", err)
	}
	m.p.apply(opt)
	if m.base == nil {
		m.version++
	}
	return loss, nil
}

// gradients runs the forward and backward passes on batch, leaving the
// gradients of the mean loss in the parameters (sparse rows in each table's
// touched list, dense gradients in full), and returns the mean loss. The
// caller applies them with p.apply or drops them with p.discard.
func (m *Model) gradients(batch []data.Sample, labels []float32, opt optim.Optimizer) (float32, error) {
	if opt == nil {
		return 0, errors.New("nil optimizer")
	}
	if len(batch) == 0 {
		return 0, errors.New("empty batch")
	}
	if len(labels) != len(batch) {
		return 0, fmt.Errorf("%d labels for %d samples", len(labels), len(batch))
	}
	for i, y := range labels {
		if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) {
			return 0, fmt.Errorf("label %d is %v", i, y)
		}
	}
	if err := m.check(batch); err != nil {
		return 0, err
	}
	m.p.prepare(opt.StateLen())
	if m.ws == nil {
		m.ws = newWorkspace(m.net.widths())
	}
	ws := m.ws
	n := len(batch)
	ws.ensure(n)
	m.net.forward(ws, batch)
	loss := crossEntropy(ws.z[:n], labels, ws.dz[:n], 1/float32(n))
	m.p.zeroGrad()
	if m.patch != nil && m.patch.only {
		m.patch.backward(ws, batch)
	} else {
		m.net.backward(ws, batch)
	}
	return float32(loss / float64(n)), nil
}

// check validates the ids of batch against the schema, and a replica
// against its base.
func (m *Model) check(batch []data.Sample) error {
	if m.base != nil && m.base.version != m.forked {
		return errors.New("the base model was trained after Fork or Reset; Reset the replica")
	}
	s := &m.schema
	for i := range batch {
		b := &batch[i]
		if b.User < 0 || int(b.User) >= s.NumUsers {
			return fmt.Errorf("sample %d: user %d out of range [0, %d)", i, b.User, s.NumUsers)
		}
		if b.Item < 0 || int(b.Item) >= s.NumItems {
			return fmt.Errorf("sample %d: item %d out of range [0, %d)", i, b.Item, s.NumItems)
		}
		if err := checkIDs(b.Categories(), s.NumCategories); err != nil {
			return fmt.Errorf("sample %d: category %w", i, err)
		}
		if err := checkIDs(b.PosHistory(), s.NumItems); err != nil {
			return fmt.Errorf("sample %d: positive-history item %w", i, err)
		}
		if err := checkIDs(b.NegHistory(), s.NumItems); err != nil {
			return fmt.Errorf("sample %d: negative-history item %w", i, err)
		}
	}
	return nil
}

func checkIDs(ids []int32, n int) error {
	for _, id := range ids {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("%d out of range [0, %d)", id, n)
		}
	}
	return nil
}

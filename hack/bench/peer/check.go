package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
)

// checkResult is the loss and the gradients of the mean loss of one batch
// from the initial weights, for each architecture.
type checkResult struct {
	Indices []int                 `json:"indices"`
	Models  map[string]checkModel `json:"models"`
}

type checkModel struct {
	Loss float64 `json:"loss"`
	// Tables: the gradient rows the batch touched (other rows' gradients
	// are zero). Dense: the full gradient, in the artifact's layout
	// (rows×cols row-major; an MLP weight is fanIn×fanOut).
	Tables map[string]tableGrad `json:"tables"`
	Dense  map[string][]float32 `json:"dense"`
}

type tableGrad struct {
	Dim    int       `json:"dim"`
	Rows   []int32   `json:"rows"`
	Values []float32 `json:"values"`
}

// gradCapture is an optimizer whose update writes the gradient into the
// parameter: after one TrainStep a replica's Delta holds exactly the
// gradients the trainer computed, for the rows it touched.
type gradCapture struct{}

func (gradCapture) StateLen() int                          { return 0 }
func (gradCapture) SetEpoch(int)                           {}
func (gradCapture) LearningRate() float32                  { return 1 }
func (gradCapture) Update(param, grad, _ []float32, _ int) { copy(param, grad) }

func check(dir string) (*checkResult, error) {
	m, d, err := loadManifest(dir)
	if err != nil {
		return nil, err
	}
	if len(m.CheckIndices) == 0 {
		return nil, errors.New("manifest has no check batch")
	}
	batch := make([]data.Sample, len(m.CheckIndices))
	y := make([]float32, len(m.CheckIndices))
	for k, i := range m.CheckIndices {
		if i < 0 || i >= len(d.samples) {
			return nil, fmt.Errorf("check index %d outside the %d samples", i, len(d.samples))
		}
		batch[k], y[k] = d.samples[i], d.labels[i]
	}
	res := &checkResult{Indices: m.CheckIndices, Models: map[string]checkModel{}}
	for _, a := range archs {
		base, err := loadModel(dir, m, a)
		if err != nil {
			return nil, err
		}
		tables, denses, err := paramNames(base)
		if err != nil {
			return nil, err
		}
		rep, err := base.Fork()
		if err != nil {
			return nil, err
		}
		loss, err := rep.TrainStep(batch, y, gradCapture{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		delta := rep.Delta()
		if len(delta.Tables) != len(tables) || len(delta.Dense) != len(denses) {
			return nil, fmt.Errorf("%s: the delta has %d tables and %d dense parameters, the artifact %d and %d",
				a, len(delta.Tables), len(delta.Dense), len(tables), len(denses))
		}
		cm := checkModel{Loss: float64(loss), Tables: map[string]tableGrad{}, Dense: map[string][]float32{}}
		for i, td := range delta.Tables {
			cm.Tables[tables[i].Name] = tableGrad{Dim: tables[i].Shape[1], Rows: td.Rows, Values: td.Values}
		}
		for i, v := range delta.Dense {
			if v == nil {
				return nil, fmt.Errorf("%s: dense parameter %s got no update", a, denses[i].Name)
			}
			cm.Dense[denses[i].Name] = v
		}
		res.Models[a] = cm
	}
	return res, nil
}

type paramShape struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Shape [2]int `json:"shape"`
}

// paramNames reads the names of m's tables and dense parameters, in
// declaration order, from the header of its artifact.
func paramNames(m *model.Model) (tables, denses []paramShape, err error) {
	var buf bytes.Buffer
	if _, err := m.Save(&buf); err != nil {
		return nil, nil, err
	}
	b := buf.Bytes()
	if len(b) < 16 || string(b[:8]) != model.Magic {
		return nil, nil, errors.New("not a model artifact")
	}
	n := int(binary.LittleEndian.Uint32(b[12:16]))
	if 16+n > len(b) {
		return nil, nil, errors.New("artifact header truncated")
	}
	var h struct {
		Params []paramShape `json:"params"`
	}
	if err := json.Unmarshal(b[16:16+n], &h); err != nil {
		return nil, nil, fmt.Errorf("decoding the artifact header: %w", err)
	}
	for _, p := range h.Params {
		if p.Kind == "table" {
			tables = append(tables, p)
		} else {
			denses = append(denses, p)
		}
	}
	return tables, denses, nil
}

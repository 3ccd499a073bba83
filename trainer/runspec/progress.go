package runspec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Progress of a running shard: the trainer serves it as JSON on
// GET ProgressPath at the address in EnvProgressAddr, and the controller
// polls it (the trainer holds no API credentials, so it cannot write
// status itself). It is informational: nothing the controller decides
// depends on it.
const (
	// EnvProgressAddr is the listen address of the trainer's progress
	// endpoint (for example ":8089"); unset: no endpoint.
	EnvProgressAddr = "LCFT_PROGRESS_ADDR"
	// DefaultProgressPort is the port the operator gives the trainer.
	DefaultProgressPort = 8089
	// ProgressPath is the endpoint's path.
	ProgressPath = "/progress"
	// MaxProgressBytes bounds a progress document; the controller reads no
	// more.
	MaxProgressBytes = 4096
)

// ProgressUnit is what a shard's done and total count.
type ProgressUnit string

// Units of progress.
const (
	// UnitSamples: training samples passed through the model
	// (pretraining: samples × epochs; pooled fine-tuning: the pool × epochs per arm).
	UnitSamples ProgressUnit = "samples"
	// UnitUsers: users fine-tuned (per-user fine-tuning).
	UnitUsers ProgressUnit = "users"
	// UnitCells: user fine-tunings of a search (users × their group's
	// cells and Auto × seeds).
	UnitCells ProgressUnit = "cells"
)

// Progress is one shard's progress in its current stage. A shard moves
// through stages (loading the data, then training, scoring or searching);
// done restarts at 0 when the stage changes.
type Progress struct {
	Kind  Kind `json:"kind"`
	Shard int  `json:"shard"`
	// Stage names what the shard does now ("loading", "pretraining",
	// "fine-tuning", "searching", "writing").
	Stage string       `json:"stage"`
	Unit  ProgressUnit `json:"unit,omitempty"`
	Done  int64        `json:"done"`
	Total int64        `json:"total"`
	// StageSeconds is how long the shard has been in this stage.
	StageSeconds float64 `json:"stageSeconds"`
}

// DecodeProgress parses and checks a progress document: it comes from a
// pod, so it is input, bounded and validated like a summary.
func DecodeProgress(b []byte) (*Progress, error) {
	if len(b) > MaxProgressBytes {
		return nil, fmt.Errorf("progress: %d bytes, more than %d", len(b), MaxProgressBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Progress
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding progress: %w", err)
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Check reports whether p is a progress a trainer can serve.
func (p *Progress) Check() error {
	switch p.Unit {
	case "", UnitSamples, UnitUsers, UnitCells:
	default:
		return fmt.Errorf("progress: unit %q is not one of %s, %s, %s", p.Unit, UnitSamples, UnitUsers, UnitCells)
	}
	if p.Shard < 0 {
		return fmt.Errorf("progress: shard %d is negative", p.Shard)
	}
	if p.Done < 0 || p.Total < 0 || p.Done > p.Total {
		return fmt.Errorf("progress: done %d of total %d is not in [0, total]", p.Done, p.Total)
	}
	if math.IsNaN(p.StageSeconds) || math.IsInf(p.StageSeconds, 0) || p.StageSeconds < 0 {
		return fmt.Errorf("progress: stage seconds %v is not a finite non-negative number", p.StageSeconds)
	}
	if len(p.Stage) > 32 {
		return fmt.Errorf("progress: stage name of %d bytes is longer than 32", len(p.Stage))
	}
	for _, r := range p.Stage {
		if (r < 'a' || r > 'z') && r != '-' {
			return fmt.Errorf("progress: stage %q is not lower-case letters and hyphens", p.Stage)
		}
	}
	return nil
}

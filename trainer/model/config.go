package model

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// Architecture names accepted in Config.Arch.
const (
	ArchLR       = "LR"
	ArchWideDeep = "WideDeep"
	ArchDeepFM   = "DeepFM"
	ArchPNN      = "PNN"
	ArchDIN      = "DIN"
)

// Config selects and sizes a model.
type Config struct {
	// Arch is the architecture: "LR", "WideDeep", "DeepFM", "PNN" or "DIN"
	// (see the package documentation).
	Arch string `json:"arch"`
	// EmbeddingDim is the width d of the embeddings (every architecture but
	// LR, which ignores it).
	EmbeddingDim int `json:"embeddingDim,omitempty"`
	// HiddenUnits are the widths of the MLP's ReLU hidden layers, input side
	// first, e.g. [64, 32] (every architecture but LR, which ignores them).
	// DIN's activation unit has its own hidden layer of fixed width 36.
	HiddenUnits []int `json:"hiddenUnits,omitempty"`
	// Seed seeds the parameter initialisation.
	Seed uint64 `json:"seed"`
	// EmbeddingInitStd is the standard deviation of the N(0, std²)
	// initialisation of embedding rows; 0 means DefaultEmbeddingInitStd.
	EmbeddingInitStd float64 `json:"embeddingInitStd,omitempty"`
}

// DefaultEmbeddingInitStd is Config.EmbeddingInitStd when unset.
const DefaultEmbeddingInitStd = 0.05

// maxEmbeddingInitStd bounds Config.EmbeddingInitStd.
const maxEmbeddingInitStd = 1.0

// embedStd is the embedding initialisation std of c.
func (c Config) embedStd() float32 {
	if c.EmbeddingInitStd == 0 {
		return DefaultEmbeddingInitStd
	}
	return float32(c.EmbeddingInitStd)
}

// arch describes one architecture: how to check its Config and how to
// declare its parameters and build its network over a parameter set.
type arch struct {
	deep  bool // uses EmbeddingDim and HiddenUnits
	build func(p *params, c Config, s data.Schema) network
}

// archs is the architecture registry. A new architecture adds an entry.
var archs = map[string]arch{
	ArchLR:       {build: buildLR},
	ArchWideDeep: {deep: true, build: buildWideDeep},
	ArchDeepFM:   {deep: true, build: buildDeepFM},
	ArchPNN:      {deep: true, build: buildPNN},
	ArchDIN:      {deep: true, build: buildDIN},
}

// Limits on sizes, to keep tables addressable with int32 slots and to reject
// absurd configurations before allocating.
const (
	maxRows        = math.MaxInt32
	maxEmbedDim    = 4096
	maxHiddenUnits = 1 << 16
	maxLayers      = 64
	maxTableSize   = 1 << 34 // values per table
)

func archNames() string {
	names := make([]string, 0, len(archs))
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// validate checks c and s and returns the architecture.
func validate(c Config, s data.Schema) (arch, error) {
	a, ok := archs[c.Arch]
	if !ok {
		return arch{}, fmt.Errorf("model: unknown architecture %q (allowed: %s)", c.Arch, archNames())
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"NumUsers", s.NumUsers}, {"NumItems", s.NumItems}, {"NumCategories", s.NumCategories}} {
		if f.n <= 0 || f.n > maxRows {
			return arch{}, fmt.Errorf("model: schema %s must be in [1, %d], got %d", f.name, maxRows, f.n)
		}
	}
	if !(c.EmbeddingInitStd >= 0 && c.EmbeddingInitStd <= maxEmbeddingInitStd) {
		return arch{}, fmt.Errorf("model: EmbeddingInitStd must be in (0, %g] (0 for %g), got %v", maxEmbeddingInitStd, DefaultEmbeddingInitStd, c.EmbeddingInitStd)
	}
	if s.HistoryLen < 0 {
		return arch{}, fmt.Errorf("model: schema HistoryLen must be >= 0, got %d", s.HistoryLen)
	}
	if !a.deep {
		return a, nil
	}
	if c.EmbeddingDim <= 0 || c.EmbeddingDim > maxEmbedDim {
		return arch{}, fmt.Errorf("model: %s needs EmbeddingDim in [1, %d], got %d", c.Arch, maxEmbedDim, c.EmbeddingDim)
	}
	for _, n := range []int{s.NumUsers, s.NumItems, s.NumCategories} {
		if n*c.EmbeddingDim > maxTableSize {
			return arch{}, fmt.Errorf("model: embedding table of %d rows × %d is too large (max %d values)", n, c.EmbeddingDim, maxTableSize)
		}
	}
	if len(c.HiddenUnits) == 0 || len(c.HiddenUnits) > maxLayers {
		return arch{}, fmt.Errorf("model: %s needs 1 to %d HiddenUnits, got %d", c.Arch, maxLayers, len(c.HiddenUnits))
	}
	for i, h := range c.HiddenUnits {
		if h <= 0 || h > maxHiddenUnits {
			return arch{}, fmt.Errorf("model: HiddenUnits[%d] must be in [1, %d], got %d", i, maxHiddenUnits, h)
		}
	}
	return a, nil
}

package model

import (
	"math/rand/v2"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

var tinySchema = data.Schema{NumUsers: 4, NumItems: 6, NumCategories: 3, HistoryLen: 4}

func tinyConfigs() []Config {
	return []Config{
		{Arch: ArchLR, Seed: 1},
		{Arch: ArchWideDeep, EmbeddingDim: 3, HiddenUnits: []int{5, 4}, Seed: 1},
		{Arch: ArchDeepFM, EmbeddingDim: 3, HiddenUnits: []int{5, 4}, Seed: 1},
		{Arch: ArchPNN, EmbeddingDim: 3, HiddenUnits: []int{5, 4}, Seed: 1},
		{Arch: ArchDIN, EmbeddingDim: 3, HiddenUnits: []int{5, 4}, Seed: 1},
	}
}

// randomSamples returns n samples with 1 to 3 categories and histories of 0
// to HistoryLen items (repeats allowed), labels 0 or 1.
func randomSamples(rng *rand.Rand, s data.Schema, n int) []data.Sample {
	ids := func(k, max int) []int32 {
		v := make([]int32, k)
		for i := range v {
			v[i] = int32(rng.IntN(max))
		}
		return v
	}
	out := make([]data.Sample, n)
	for i := range out {
		user := int32(rng.IntN(s.NumUsers))
		item := int32(rng.IntN(s.NumItems))
		cats := ids(1+rng.IntN(3), s.NumCategories)
		pos := ids(rng.IntN(s.HistoryLen+1), s.NumItems)
		neg := ids(rng.IntN(s.HistoryLen+1), s.NumItems)
		out[i] = data.NewSample(user, item, cats, pos, neg, float32(rng.IntN(2)), int64(i))
	}
	return out
}

func labelsOf(batch []data.Sample) []float32 {
	y := make([]float32, len(batch))
	for i, s := range batch {
		y[i] = s.Label
	}
	return y
}

func mustNew(t testing.TB, c Config, s data.Schema) *Model {
	t.Helper()
	m, err := New(c, s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustSGD(t testing.TB, lr float32) *optim.SGD {
	t.Helper()
	o, err := optim.NewSGD(lr, 1)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mustAdam(t testing.TB, lr float32) *optim.Adam {
	t.Helper()
	c := optim.DefaultAdamConfig()
	c.LR = lr
	o, err := optim.NewAdam(c)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func predict(t testing.TB, m *Model, batch []data.Sample) []float32 {
	t.Helper()
	z := make([]float32, len(batch))
	if err := m.Predict(batch, z); err != nil {
		t.Fatal(err)
	}
	return z
}

func step(t testing.TB, m *Model, batch []data.Sample, y []float32, opt optim.Optimizer) float32 {
	t.Helper()
	l, err := m.TrainStep(batch, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// randomise sets every base parameter to N(0, std²).
func randomise(m *Model, rng *rand.Rand, std float64) {
	for _, t := range m.p.tables {
		for i := range t.data {
			t.data[i] = float32(std * rng.NormFloat64())
		}
	}
	for _, d := range m.p.denses {
		for i := range d.data {
			d.data[i] = float32(std * rng.NormFloat64())
		}
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

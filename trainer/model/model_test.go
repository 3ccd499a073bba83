package model

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

func TestNewValidates(t *testing.T) {
	wd := Config{Arch: ArchWideDeep, EmbeddingDim: 4, HiddenUnits: []int{8}}
	for _, tc := range []struct {
		name string
		cfg  Config
		s    data.Schema
		want string
	}{
		{"unknown arch", Config{Arch: "DeepFFM"}, tinySchema, `unknown architecture "DeepFFM" (allowed: DIN, DeepFM, LR, PNN, WideDeep)`},
		{"empty arch", Config{}, tinySchema, "unknown architecture"},
		{"no users", Config{Arch: ArchLR}, data.Schema{NumItems: 1, NumCategories: 1}, "NumUsers"},
		{"no items", Config{Arch: ArchLR}, data.Schema{NumUsers: 1, NumCategories: 1}, "NumItems"},
		{"no categories", Config{Arch: ArchLR}, data.Schema{NumUsers: 1, NumItems: 1}, "NumCategories"},
		{"negative history", Config{Arch: ArchLR}, data.Schema{NumUsers: 1, NumItems: 1, NumCategories: 1, HistoryLen: -1}, "HistoryLen"},
		{"no dim", Config{Arch: ArchWideDeep, HiddenUnits: []int{8}}, tinySchema, "EmbeddingDim"},
		{"no hidden", Config{Arch: ArchWideDeep, EmbeddingDim: 4}, tinySchema, "HiddenUnits"},
		{"zero hidden", Config{Arch: ArchWideDeep, EmbeddingDim: 4, HiddenUnits: []int{8, 0}}, tinySchema, "HiddenUnits[1]"},
	} {
		_, err := New(tc.cfg, tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	m, err := New(wd, tinySchema)
	if err != nil {
		t.Fatal(err)
	}
	// 1+4+6+3+6+6 linear, (4+6+3)*4 embeddings, 20*8+8 + 8*1 MLP.
	if got, want := m.NumParams(), 26+52+176; got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
	if got := Architectures(); !slices.Equal(got, []string{ArchDIN, ArchDeepFM, ArchLR, ArchPNN, ArchWideDeep}) {
		t.Errorf("Architectures() = %v", got)
	}
	// The deep architectures' sizes: d = 4, MLP 8 hidden units.
	for _, tc := range []struct {
		arch string
		want int
	}{
		// WideDeep plus nothing: the FM term has no parameters.
		{ArchDeepFM, 26 + 52 + 176},
		// Embeddings, output bias, MLP over 20 + 10 products: 30*8+8 + 8.
		{ArchPNN, 52 + 1 + 256},
		// WideDeep plus two activation units of 16*36+36 + 36+1.
		{ArchDIN, 26 + 52 + 176 + 2*649},
	} {
		m, err := New(Config{Arch: tc.arch, EmbeddingDim: 4, HiddenUnits: []int{8}}, tinySchema)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.NumParams(); got != tc.want {
			t.Errorf("%s: NumParams = %d, want %d", tc.arch, got, tc.want)
		}
		if _, err := New(Config{Arch: tc.arch, EmbeddingDim: 4}, tinySchema); err == nil || !strings.Contains(err.Error(), "HiddenUnits") {
			t.Errorf("%s without HiddenUnits: %v", tc.arch, err)
		}
		if _, err := New(Config{Arch: tc.arch, HiddenUnits: []int{8}}, tinySchema); err == nil || !strings.Contains(err.Error(), "EmbeddingDim") {
			t.Errorf("%s without EmbeddingDim: %v", tc.arch, err)
		}
	}
}

func TestInitialisationSeeded(t *testing.T) {
	cfg := tinyConfigs()[1]
	digest := func(seed uint64) string {
		c := cfg
		c.Seed = seed
		d, err := mustNew(t, c, tinySchema).Save(&bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if digest(1) != digest(1) {
		t.Error("same seed, different models")
	}
	if digest(1) == digest(2) {
		t.Error("different seeds, same model")
	}
	m := mustNew(t, cfg, tinySchema)
	std := func(v []float32) float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s / float64(len(v)))
	}
	if s := std(m.p.tables[6].data); s < 0.02 || s > 0.1 { // embed.item, 18 values
		t.Errorf("embedding std %.3g, want about 0.05", s)
	}
	if s := std(m.p.denses[1].data); s < 0.3 || s > 0.8 { // mlp.0.weight, He std 0.32
		t.Errorf("first layer std %.3g, want about sqrt(2/15)", s)
	}
}

func TestBadInputLeavesModelUnchanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	good := randomSamples(rng, tinySchema, 3)
	bad := func(f func(*data.Sample)) []data.Sample {
		b := randomSamples(rand.New(rand.NewPCG(1, 2)), tinySchema, 3)
		f(&b[2])
		return b
	}
	for _, cfg := range tinyConfigs() {
		m := mustNew(t, cfg, tinySchema)
		var before bytes.Buffer
		d0, _ := m.Save(&before)
		opt := mustSGD(t, 0.1)
		for _, tc := range []struct {
			name   string
			batch  []data.Sample
			labels []float32
			opt    optim.Optimizer
			want   string
		}{
			{"empty", nil, nil, opt, "empty batch"},
			{"labels", good, []float32{1}, opt, "1 labels for 3 samples"},
			{"nan label", good, []float32{0, float32(math.NaN()), 1}, opt, "label 1 is NaN"},
			{"inf label", good, []float32{0, 1, float32(math.Inf(1))}, opt, "label 2 is +Inf"},
			{"nil opt", good, labelsOf(good), nil, "nil optimizer"},
			{"user", bad(func(s *data.Sample) { s.User = 4 }), labelsOf(good), opt, "sample 2: user 4 out of range [0, 4)"},
			{"negative user", bad(func(s *data.Sample) { s.User = -1 }), labelsOf(good), opt, "user -1"},
			{"item", bad(func(s *data.Sample) { s.Item = 6 }), labelsOf(good), opt, "item 6"},
			{"category", bad(func(s *data.Sample) {
				*s = data.NewSample(s.User, s.Item, []int32{0, 3}, s.PosHistory(), s.NegHistory(), s.Label, s.Timestamp)
			}), labelsOf(good), opt, "category 3"},
			{"pos", bad(func(s *data.Sample) {
				*s = data.NewSample(s.User, s.Item, s.Categories(), []int32{9}, s.NegHistory(), s.Label, s.Timestamp)
			}), labelsOf(good), opt, "positive-history item 9"},
			{"neg", bad(func(s *data.Sample) {
				*s = data.NewSample(s.User, s.Item, s.Categories(), s.PosHistory(), []int32{-2}, s.Label, s.Timestamp)
			}), labelsOf(good), opt, "negative-history item -2"},
		} {
			_, err := m.TrainStep(tc.batch, tc.labels, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s: got %v, want error containing %q", cfg.Arch, tc.name, err, tc.want)
			}
			if tc.opt != nil && len(tc.batch) == len(tc.labels) && len(tc.batch) > 0 {
				if err := m.Predict(tc.batch, make([]float32, len(tc.batch))); (err == nil) != (tc.name == "nan label" || tc.name == "inf label") {
					t.Errorf("%s %s: Predict error %v", cfg.Arch, tc.name, err)
				}
			}
		}
		if err := m.Predict(good, make([]float32, 2)); err == nil {
			t.Error("Predict accepted a short logits slice")
		}
		d1, _ := m.Save(&bytes.Buffer{})
		if d0 != d1 {
			t.Errorf("%s: failed steps changed the model", cfg.Arch)
		}
	}
}

// TestSoftLabelLoss checks the loss and its gradient on one sample against
// closed forms, for labels outside [0, 1].
func TestSoftLabelLoss(t *testing.T) {
	z := []float32{-30, -1, 0, 0.5, 40}
	for _, y := range []float32{0, 1, 2, 1.0 / 3, -0.5} {
		for _, zi := range z {
			dz := make([]float32, 1)
			got := crossEntropy([]float32{zi}, []float32{y}, dz, 1)
			zf, yf := float64(zi), float64(y)
			p := 1 / (1 + math.Exp(-zf))
			want := -yf*math.Log(p) - (1-yf)*math.Log1p(-p)
			if math.IsInf(want, 0) || math.IsNaN(want) { // p rounds to 0 or 1
				want = math.Log1p(math.Exp(zf)) - yf*zf
				if zf > 30 {
					want = zf - yf*zf
				}
			}
			if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Errorf("loss(z=%v, y=%v) = %v, want %v", zi, y, got, want)
			}
			if math.Abs(float64(dz[0])-(p-yf)) > 1e-6 {
				t.Errorf("dloss/dz(z=%v, y=%v) = %v, want %v", zi, y, dz[0], p-yf)
			}
		}
	}
}

// TestLazyAdamRows checks that rows outside a batch keep their values and
// their Adam state, and that a row's bias correction counts its own steps.
func TestLazyAdamRows(t *testing.T) {
	m := mustNew(t, tinyConfigs()[1], tinySchema)
	opt := mustAdam(t, 0.01)
	a := []data.Sample{data.NewSample(0, 0, []int32{0}, nil, nil, 0, 0)}
	b := []data.Sample{data.NewSample(1, 1, []int32{1}, nil, nil, 0, 0)}
	step(t, m, a, []float32{1}, opt)
	user := m.p.tables[5] // embed.user
	row0 := append([]float32(nil), user.row(0)...)
	st0 := append([]float32(nil), user.state[:2*user.dim]...)
	row1 := append([]float32(nil), user.row(1)...)
	for range 3 {
		step(t, m, b, []float32{0}, opt)
	}
	if !equalFloats(row0, user.row(0)) || !equalFloats(st0, user.state[:2*user.dim]) {
		t.Error("row 0 or its Adam state moved while not in the batch")
	}
	if equalFloats(row1, user.row(1)) {
		t.Error("row 1 did not move")
	}
	if user.steps[0] != 1 || user.steps[1] != 3 || user.steps[2] != 0 {
		t.Errorf("row step counts %v, want [1 3 0 ...]", user.steps)
	}
	// With bias correction by the row's own count, a row's first update
	// has size lr (sign of the gradient) whatever the global step.
	c := []data.Sample{data.NewSample(2, 2, []int32{2}, nil, nil, 0, 0)}
	w := append([]float32(nil), m.p.tables[0].row(2)...) // linear.user row 2
	step(t, m, c, []float32{1}, opt)
	if d := w[0] - m.p.tables[0].row(2)[0]; math.Abs(math.Abs(float64(d))-0.01) > 1e-5 {
		t.Errorf("first lazy-Adam update of a fresh row moved %v, want ±0.01", d)
	}
}

func TestTrainStepAllocatesNothing(t *testing.T) {
	s := data.Schema{NumUsers: 50, NumItems: 200, NumCategories: 10, HistoryLen: 10}
	batch := randomSamples(rand.New(rand.NewPCG(3, 4)), s, 32)
	y := labelsOf(batch)
	var cfgs []Config
	for _, a := range Architectures() {
		cfgs = append(cfgs, Config{Arch: a, EmbeddingDim: 16, HiddenUnits: []int{64, 32}})
	}
	for _, cfg := range cfgs {
		for _, opt := range []optim.Optimizer{mustSGD(t, 0.01), mustAdam(t, 0.001)} {
			m := mustNew(t, cfg, s)
			if n := testing.AllocsPerRun(20, func() { m.TrainStep(batch, y, opt) }); n != 0 {
				t.Errorf("%s %T: TrainStep allocates %v times per step", cfg.Arch, opt, n)
			}
			r, err := m.Fork()
			if err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(20, func() {
				r.TrainStep(batch, y, opt)
				r.TrainStep(batch[:8], y[:8], opt)
				r.Reset()
			}); n != 0 {
				t.Errorf("%s %T: replica fine-tune and Reset allocate %v times", cfg.Arch, opt, n)
			}
			z := make([]float32, len(batch))
			if n := testing.AllocsPerRun(20, func() { r.Predict(batch, z) }); n != 0 && !raceEnabled {
				t.Errorf("%s: Predict allocates %v times", cfg.Arch, n)
			}
			if n := testing.AllocsPerRun(20, func() { m.Predict(batch, z) }); n != 0 && !raceEnabled {
				t.Errorf("%s: base Predict allocates %v times", cfg.Arch, n)
			}
		}
	}
}

// parityData: the label is the parity of the item id, plus a user bias.
func parityData(rng *rand.Rand, s data.Schema, n int) ([]data.Sample, []float32) {
	batch := randomSamples(rng, s, n)
	y := make([]float32, n)
	for i := range batch {
		if batch[i].Item%2 == 0 {
			y[i] = 1
		}
		batch[i].Label = y[i]
	}
	return batch, y
}

func TestConvergence(t *testing.T) {
	s := data.Schema{NumUsers: 20, NumItems: 40, NumCategories: 4, HistoryLen: 5}
	train, y := parityData(rand.New(rand.NewPCG(5, 6)), s, 640)
	for _, tc := range []struct {
		cfg Config
		opt optim.Optimizer
	}{
		{Config{Arch: ArchLR, Seed: 3}, mustSGD(t, 1)},
		{Config{Arch: ArchWideDeep, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustSGD(t, 0.5)},
		{Config{Arch: ArchWideDeep, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustAdam(t, 0.01)},
		{Config{Arch: ArchDeepFM, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustSGD(t, 0.5)},
		{Config{Arch: ArchDeepFM, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustAdam(t, 0.01)},
		{Config{Arch: ArchPNN, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustSGD(t, 0.5)},
		{Config{Arch: ArchPNN, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustAdam(t, 0.01)},
		{Config{Arch: ArchDIN, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustSGD(t, 0.5)},
		{Config{Arch: ArchDIN, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 3}, mustAdam(t, 0.01)},
	} {
		m := mustNew(t, tc.cfg, s)
		loss := func() float64 { return meanLoss(m, train, y) }
		initial := loss()
		for range 5 {
			for lo := 0; lo < len(train); lo += 32 {
				step(t, m, train[lo:lo+32], y[lo:lo+32], tc.opt)
			}
		}
		final := loss()
		t.Logf("%s %T: training loss %.4f -> %.4f", tc.cfg.Arch, tc.opt, initial, final)
		if final > initial/2 {
			t.Errorf("%s %T: training loss %.4f -> %.4f, want below half", tc.cfg.Arch, tc.opt, initial, final)
		}
	}
}

// TestDINAttends: on data where the label says whether the candidate is in
// the user's positive history, which mean pooling blurs, DIN's attention
// generalises far better than Wide&Deep's mean pooling.
func TestDINAttends(t *testing.T) {
	s := data.Schema{NumUsers: 30, NumItems: 60, NumCategories: 5, HistoryLen: 5}
	rng := rand.New(rand.NewPCG(1, 6))
	all := randomSamples(rng, s, 5120)
	y := make([]float32, len(all))
	for i := range all {
		if h := all[i].PosHistory(); slices.Contains(h, all[i].Item) || (len(h) > 0 && rng.IntN(2) == 0) {
			h[0] = all[i].Item
			y[i] = 1
		}
	}
	train, test := all[:4096], all[4096:]
	heldOut := map[string]float64{}
	for _, arch := range []string{ArchWideDeep, ArchDIN} {
		m := mustNew(t, Config{Arch: arch, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 1}, s)
		opt := mustAdam(t, 0.01)
		for range 8 {
			for lo := 0; lo < len(train); lo += 32 {
				step(t, m, train[lo:lo+32], y[lo:lo+32], opt)
			}
		}
		heldOut[arch] = meanLoss(m, test, y[len(train):])
	}
	t.Logf("held-out loss: WideDeep %.3f, DIN %.3f", heldOut[ArchWideDeep], heldOut[ArchDIN])
	if heldOut[ArchDIN] > 0.3 || heldOut[ArchDIN] > heldOut[ArchWideDeep]/2 {
		t.Errorf("held-out loss: WideDeep %.3f, DIN %.3f; want DIN below 0.3 and half of WideDeep's", heldOut[ArchWideDeep], heldOut[ArchDIN])
	}
}

package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// TestPatchGradients checks, for every architecture, the forward pass of a
// patched model against the float64 reference and the analytic gradient
// of every parameter group, patch vectors included, against finite
// differences of the reference: first with the backbone training too
// (every group goes through the FiLM), then patch-only (the backward pass
// Patch scope runs), where only the patch has a gradient.
func TestPatchGradients(t *testing.T) {
	batch, labels := gradBatch()
	for _, cfg := range tinyConfigs() {
		t.Run(cfg.Arch, func(t *testing.T) {
			m := mustNew(t, cfg, tinySchema)
			rng := rand.New(rand.NewPCG(7, 8))
			randomise(m, rng, 0.5)
			m.enablePatch(false)
			for _, d := range m.p.patch {
				for i := range d.data {
					d.data[i] = float32(0.5 * rng.NormFloat64())
				}
			}
			r := newRef(m)
			for i, z := range predict(t, m, batch) {
				if want := r.logit(&batch[i]); math.Abs(float64(z)-want) > 1e-5*(1+math.Abs(want)) {
					t.Errorf("sample %d: patched logit %v, reference %v", i, z, want)
				}
			}
			groups := analyticGroups(t, m, batch, labels)
			if want := len(m.p.tables) + len(m.p.denses) + len(m.p.patch); len(groups) != want || len(m.p.patch) == 0 {
				t.Fatalf("checked %d groups, model has %d (%d patch vectors)", len(groups), want, len(m.p.patch))
			}
			numerics := map[string][]float64{}
			for _, g := range groups {
				num := numeric(r, g, batch, labels, 1e-6)
				numerics[g.name] = num
				for _, msg := range compare(g.name, g.analytic, num) {
					t.Error(msg)
				}
				checkCatchesOnePercent(t, g.name, g.analytic, num)
			}

			// Patch-only: the backbone frozen, only the patch has a gradient,
			// the same as above.
			m.enablePatch(true)
			for _, d := range m.p.denses {
				d.frozen = true
			}
			for _, g := range analyticGroups(t, m, batch, labels) {
				if isPatch(m, g.name) {
					for _, msg := range compare(g.name, g.analytic, numerics[g.name]) {
						t.Error("patch-only: " + msg)
					}
					continue
				}
				for i, v := range g.analytic {
					if v != 0 {
						t.Errorf("patch-only: backbone %s[%d] has gradient %v", g.name, i, v)
						break
					}
				}
			}
		})
	}
}

func isPatch(m *Model, name string) bool {
	for _, d := range m.p.patch {
		if d.name == name {
			return true
		}
	}
	return false
}

// TestPatchIdentity: a fresh patch is the identity, bit for bit, and its
// delta is empty.
func TestPatchIdentity(t *testing.T) {
	train, test := userData(2)
	for _, cfg := range fineConfigs() {
		base := pretrained(t, cfg, train)
		r, err := base.Fork()
		if err != nil {
			t.Fatal(err)
		}
		r.UsePatch(true)
		if !equalFloats(predict(t, r.Model, test[0]), predict(t, base, test[0])) {
			t.Errorf("%s: an empty patch changes the logits", cfg.Arch)
		}
		if d := r.Delta(); d.Patch != nil || len(d.AppendBinary(nil)) != len(d.Tables)+1 {
			t.Errorf("%s: an empty patch has a delta of %d bytes", cfg.Arch, len(d.AppendBinary(nil)))
		}
	}
}

// TestPatchDeltaRoundTrip: a patch-only replica trains its patch alone (no
// embedding row, no dense parameter moves); its delta is the patch, a few
// hundred bytes, and applied to a fresh replica it gives the fine-tuned
// logits bit for bit.
func TestPatchDeltaRoundTrip(t *testing.T) {
	train, test := userData(4)
	for _, cfg := range fineConfigs() {
		for name, newOpt := range newOpts(t) {
			t.Run(cfg.Arch+"/"+name, func(t *testing.T) {
				base := pretrained(t, cfg, train)
				r, err := base.Fork()
				if err != nil {
					t.Fatal(err)
				}
				r.UsePatch(true)
				want := fineTune(t, r, train[1], test[1], newOpt())
				if equalFloats(want, predict(t, base, test[1])) {
					t.Fatal("fine-tuning the patch changed no logit")
				}
				if r.OverlayRows() != 0 {
					t.Errorf("a patch-only replica wrote %d embedding rows", r.OverlayRows())
				}
				for i, p := range r.p.denses {
					if p.dirty || !equalFloats(p.data, base.p.denses[i].data) {
						t.Errorf("dense parameter %q moved", p.name)
					}
				}
				d := r.Delta()
				if n := patchLen(r.net); len(d.Patch) != n {
					t.Fatalf("delta patch has %d values, want %d", len(d.Patch), n)
				}
				enc := d.AppendBinary(nil)
				// One zero row count per table, zero dense parameters, the
				// patch's length and values.
				wantLen := len(d.Tables) + 1 + len(binary.AppendUvarint(nil, uint64(len(d.Patch)))) + 4*len(d.Patch)
				if len(enc) != wantLen {
					t.Errorf("delta %d bytes, want %d", len(enc), wantLen)
				}
				back, err := DecodeDelta(enc, base)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, d) {
					t.Fatal("the delta does not survive encoding")
				}
				r2, err := base.Fork() // no patch: ApplyDelta gives it one
				if err != nil {
					t.Fatal(err)
				}
				fineTune(t, r2, train[2], test[2], newOpt())
				if err := r2.ApplyDelta(back); err != nil {
					t.Fatal(err)
				}
				if !r2.HasPatch() {
					t.Fatal("ApplyDelta of a patch left the replica without one")
				}
				for u := range train {
					if !equalFloats(predict(t, r2.Model, train[u]), predict(t, r.Model, train[u])) {
						t.Errorf("user %d's samples score differently", u)
					}
				}
				if !equalFloats(predict(t, r2.Model, test[1]), want) {
					t.Error("the applied delta predicts differently from the fine-tuned replica")
				}
				var buf bytes.Buffer
				if _, err := r.Save(&buf); err == nil {
					t.Error("a replica with a trained patch saved as a full model")
				}
				if err := base.Merge([]*Replica{r}); err == nil {
					t.Error("a patched replica merged")
				}
				r.UsePatch(false)
				if r.HasPatch() || !equalFloats(predict(t, r.Model, test[1]), predict(t, base, test[1])) {
					t.Error("UsePatch(false) left a patch")
				}
				t.Logf("patch delta: %d bytes (%d values); model %d parameters", len(enc), len(d.Patch), base.NumParams())
			})
		}
	}
}

// TestPatchLearns: patch-only fine-tuning lowers a user's training loss.
func TestPatchLearns(t *testing.T) {
	train, _ := userData(3)
	for _, cfg := range fineConfigs() {
		base := pretrained(t, cfg, train)
		r, _ := base.Fork()
		r.UsePatch(true)
		tr := train[0]
		y := labelsOf(tr)
		before := meanLoss(r.Model, tr, y)
		opt := mustAdam(t, 0.05)
		for range 30 {
			step(t, r.Model, tr, y, opt)
		}
		after := meanLoss(r.Model, tr, y)
		if !(after < before-1e-3) {
			t.Errorf("%s: training loss %.5f before, %.5f after 30 patch steps", cfg.Arch, before, after)
		}
		t.Logf("%s: training loss %.4f -> %.4f", cfg.Arch, before, after)
	}
}

// TestDeltaEncodingWithoutPatch: a delta without a patch keeps the encoding
// it had before patches, checked on hand-written bytes.
func TestDeltaEncodingWithoutPatch(t *testing.T) {
	m := mustNew(t, Config{Arch: ArchLR, Seed: 1}, tinySchema)
	// linear.user row 2 = 1.5, the other four tables untouched,
	// linear.bias (dense 0) = 0.25.
	enc := []byte{1, 2, 0x00, 0x00, 0xc0, 0x3f, 0, 0, 0, 0, 1, 0, 0x00, 0x00, 0x80, 0x3e}
	d, err := DecodeDelta(enc, m)
	if err != nil {
		t.Fatal(err)
	}
	if d.Patch != nil || !reflect.DeepEqual(d.Tables[0], TableDelta{Rows: []int32{2}, Values: []float32{1.5}}) ||
		!reflect.DeepEqual(d.Dense, [][]float32{{0.25}}) {
		t.Fatalf("decoded %+v", d)
	}
	if !bytes.Equal(d.AppendBinary(nil), enc) {
		t.Error("re-encodes differently")
	}
	// The same with a patch of LR's 6 values: the dense count becomes
	// 1+1+1 (the model's one dense parameter, plus one, plus the one
	// present), and 6 then the 6 floats follow.
	d.Patch = []float32{0, 0, 0, 0, 0, 2}
	withPatch := bytes.Clone(enc)
	withPatch[10] = 3
	withPatch = append(append(withPatch, 6), make([]byte, 20)...)
	withPatch = append(withPatch, 0x00, 0x00, 0x00, 0x40)
	if got := d.AppendBinary(nil); !bytes.Equal(got, withPatch) {
		t.Errorf("patch encoding %x, want %x", got, withPatch)
	}
	r, _ := m.Fork()
	if err := r.ApplyDelta(d); err != nil {
		t.Fatal(err)
	}
	s := []data.Sample{data.NewSample(2, 0, []int32{0}, nil, nil, 0, 0)}
	// bias 0.25 + shift 2 + user 1.5 (other terms 0).
	if z := predict(t, r.Model, s)[0]; z != 3.75 {
		t.Errorf("logit %v, want 3.75", z)
	}
}

// TestDecodeDeltaRejectsBadPatch: wrong patch lengths, NaN patch values and
// truncated patches are refused.
func TestDecodeDeltaRejectsBadPatch(t *testing.T) {
	train, test := userData(2)
	base := pretrained(t, fineConfigs()[1], train)
	r, _ := base.Fork()
	r.UsePatch(true)
	fineTune(t, r, train[0], test[0], mustSGD(t, 0.05))
	good := r.Delta()
	enc := good.AppendBinary(nil)
	for n := range len(enc) {
		if _, err := DecodeDelta(enc[:n], base); err == nil {
			t.Fatalf("a patch delta truncated to %d of %d bytes decodes", n, len(enc))
		}
	}
	bad := *good
	bad.Patch = good.Patch[1:]
	if _, err := DecodeDelta(bad.AppendBinary(nil), base); err == nil {
		t.Error("a patch one value short decodes")
	}
	if err := r.ApplyDelta(&bad); err == nil {
		t.Error("a patch one value short applies")
	}
	bad.Patch = slices.Clone(good.Patch)
	bad.Patch[3] = float32(math.Inf(1))
	if _, err := DecodeDelta(bad.AppendBinary(nil), base); !errors.Is(err, ErrNonFinite) {
		t.Errorf("infinite patch value: %v", err)
	}
}

// TestPatchAllocatesNothing: a patched replica trains, resets and predicts
// without allocating once its buffers have grown.
func TestPatchAllocatesNothing(t *testing.T) {
	s := data.Schema{NumUsers: 50, NumItems: 200, NumCategories: 10, HistoryLen: 10}
	batch := randomSamples(rand.New(rand.NewPCG(3, 4)), s, 32)
	y := labelsOf(batch)
	for _, a := range Architectures() {
		for _, opt := range []optim.Optimizer{mustSGD(t, 0.01), mustAdam(t, 0.001)} {
			m := mustNew(t, Config{Arch: a, EmbeddingDim: 16, HiddenUnits: []int{64, 32}}, s)
			r, err := m.Fork()
			if err != nil {
				t.Fatal(err)
			}
			r.UsePatch(true)
			if n := testing.AllocsPerRun(20, func() {
				r.TrainStep(batch, y, opt)
				r.TrainStep(batch[:8], y[:8], opt)
				r.Reset()
			}); n != 0 {
				t.Errorf("%s %T: patched fine-tune and Reset allocate %v times", a, opt, n)
			}
			z := make([]float32, len(batch))
			if n := testing.AllocsPerRun(20, func() { r.Predict(batch, z) }); n != 0 && !raceEnabled {
				t.Errorf("%s: patched Predict allocates %v times", a, n)
			}
		}
	}
}

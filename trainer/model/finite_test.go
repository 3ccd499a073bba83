package model

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestCheckFinite: a replica checks the rows it overlaid and its dense
// parameters; a base model checks everything; Reset clears what the
// replica owned.
func TestCheckFinite(t *testing.T) {
	train, _ := userData(3)
	for _, cfg := range fineConfigs() {
		t.Run(cfg.Arch, func(t *testing.T) {
			base := pretrained(t, cfg, train)
			if err := base.CheckFinite(); err != nil {
				t.Fatalf("trained base: %v", err)
			}
			r, err := base.Fork()
			if err != nil {
				t.Fatal(err)
			}
			fineTune(t, r, train[0], train[1], mustSGD(t, 0.05))
			if err := r.CheckFinite(); err != nil {
				t.Fatalf("fine-tuned replica: %v", err)
			}
			// An overlaid row that overflowed is found and named.
			tb := r.p.tables[0]
			if len(tb.ovRows) == 0 {
				t.Fatal("fine-tuning overlaid no row")
			}
			tb.ov[len(tb.ov)-1] = float32(math.Inf(1))
			err = r.CheckFinite()
			if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), tb.name) {
				t.Fatalf("overlay row +Inf: %v", err)
			}
			r.Reset()
			if err := r.CheckFinite(); err != nil {
				t.Fatalf("after Reset: %v", err)
			}
			// A dense parameter (LR has none).
			if len(r.p.denses) > 0 {
				d := r.p.denses[len(r.p.denses)-1]
				d.data[0] = float32(math.NaN())
				d.dirty = true
				if err := r.CheckFinite(); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), d.name) {
					t.Fatalf("dense NaN: %v", err)
				}
				r.Reset()
				if err := r.CheckFinite(); err != nil {
					t.Fatalf("after Reset: %v", err)
				}
			}
			// A base row the replica never wrote is the base's to report.
			bt := base.p.tables[0]
			saved := bt.data[0]
			bt.data[0] = float32(math.NaN())
			if err := r.CheckFinite(); err != nil {
				t.Errorf("replica reported its base's row: %v", err)
			}
			if err := base.CheckFinite(); !errors.Is(err, ErrNonFinite) {
				t.Errorf("base with a NaN: %v", err)
			}
			// Save refuses it: Load would refuse the artifact.
			if _, err := base.Save(&bytes.Buffer{}); !errors.Is(err, ErrNonFinite) {
				t.Errorf("Save of a NaN model: %v", err)
			}
			bt.data[0] = saved
		})
	}
}

// TestDivergedReplicaIsCaught fine-tunes with absurd labels at a large
// learning rate until float32 overflows: the loss or CheckFinite says so,
// and Save refuses the model.
func TestDivergedReplicaIsCaught(t *testing.T) {
	train, _ := userData(2)
	base := pretrained(t, fineConfigs()[1], train) // Wide&Deep
	r, err := base.Fork()
	if err != nil {
		t.Fatal(err)
	}
	opt := mustSGD(t, 10)
	tr := train[0]
	y := labelsOf(tr)
	for i := range y {
		if y[i] == 0 {
			y[i] = -1e6 // equivalent CTR far below 0: the loss has no minimum
		}
	}
	diverged := false
	for range 50 {
		loss := step(t, r.Model, tr, y, opt)
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) || r.CheckFinite() != nil {
			diverged = true
			break
		}
	}
	if !diverged {
		t.Fatal("fine-tuning with labels -1e6 at lr 10 stayed finite for 50 steps")
	}
	if _, err := r.Save(&bytes.Buffer{}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Save of the diverged replica: %v", err)
	}
	r.Reset()
	if err := r.CheckFinite(); err != nil {
		t.Errorf("Reset did not roll back: %v", err)
	}
}

// TestSaveWithProvenance: a fine-tuned replica saved with its base's
// vocabulary and another dataset digest loads as a base model that
// predicts exactly as the replica did.
func TestSaveWithProvenance(t *testing.T) {
	train, test := userData(3)
	for _, cfg := range fineConfigs() {
		t.Run(cfg.Arch, func(t *testing.T) {
			base := pretrained(t, cfg, train)
			v := testVocab(t, base.Schema())
			if err := base.SetProvenance(Provenance{Vocab: v, DatasetDigest: "sha256:aa"}); err != nil {
				t.Fatal(err)
			}
			r, err := base.Fork()
			if err != nil {
				t.Fatal(err)
			}
			want := fineTune(t, r, train[0], test[0], mustAdam(t, 0.01))
			var buf bytes.Buffer
			if _, err := r.SaveWithProvenance(&buf, Provenance{Vocab: v, DatasetDigest: "sha256:bb"}); err != nil {
				t.Fatal(err)
			}
			got, err := Load(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if p := got.Provenance(); p.DatasetDigest != "sha256:bb" || p.Vocab == nil || p.Vocab.Users.Name(2) != v.Users.Name(2) {
				t.Errorf("provenance %+v", p)
			}
			if !equalFloats(predict(t, got, test[0]), want) {
				t.Error("the saved fine-tuned model predicts differently from the replica")
			}
			if base.Provenance().DatasetDigest != "sha256:aa" {
				t.Error("SaveWithProvenance changed the base's provenance")
			}
			small := testVocab(t, tinySchema)
			if _, err := r.SaveWithProvenance(&bytes.Buffer{}, Provenance{Vocab: small}); err == nil || !strings.Contains(err.Error(), "does not match the schema") {
				t.Errorf("wrong-size vocabulary: %v", err)
			}
		})
	}
}

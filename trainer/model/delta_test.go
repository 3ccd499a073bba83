package model

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

// TestDeltaRoundTrip: a fine-tuned replica's delta, encoded, decoded and
// applied to a fresh replica of the same base, gives the fine-tuned model
// bit for bit (the same predictions, the same saved bytes).
func TestDeltaRoundTrip(t *testing.T) {
	train, test := userData(4)
	for _, cfg := range fineConfigs() {
		for name, newOpt := range newOpts(t) {
			t.Run(cfg.Arch+"/"+name, func(t *testing.T) {
				base := pretrained(t, cfg, train)
				r, err := base.Fork()
				if err != nil {
					t.Fatal(err)
				}
				want := fineTune(t, r, train[1], test[1], newOpt())
				d := r.Delta()
				enc := d.AppendBinary(nil)
				back, err := DecodeDelta(enc, base)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, d) {
					t.Fatal("the delta does not survive encoding")
				}
				r2, err := base.Fork()
				if err != nil {
					t.Fatal(err)
				}
				fineTune(t, r2, train[2], test[2], newOpt()) // dirty it first: ApplyDelta resets
				if err := r2.ApplyDelta(back); err != nil {
					t.Fatal(err)
				}
				if !equalFloats(predict(t, r2.Model, test[1]), want) {
					t.Error("the applied delta predicts differently from the fine-tuned replica")
				}
				for u := range train {
					if !equalFloats(predict(t, r2.Model, train[u]), predict(t, r.Model, train[u])) {
						t.Errorf("user %d's samples score differently", u)
					}
				}
				var a, b bytes.Buffer
				if _, err := r.Save(&a); err != nil {
					t.Fatal(err)
				}
				if _, err := r2.Save(&b); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Error("the applied delta saves different parameters")
				}
				t.Logf("delta: %d bytes for %d overlay rows; model %d parameters", len(enc), r.OverlayRows(), base.NumParams())
			})
		}
	}
}

// TestFrozenDense: a replica with frozen dense parameters updates only the
// embedding rows it touches, exactly as the unfrozen replica does in the
// first step (the embeddings' gradients do not depend on the dense
// parameters' update), and its delta carries no dense parameter.
func TestFrozenDense(t *testing.T) {
	train, test := userData(3)
	for _, cfg := range fineConfigs() {
		t.Run(cfg.Arch, func(t *testing.T) {
			base := pretrained(t, cfg, train)
			free, _ := base.Fork()
			frozen, _ := base.Fork()
			frozen.FreezeDense(true)
			batch := train[0][:8]
			y := labelsOf(batch)
			lf := step(t, free.Model, batch, y, mustSGD(t, 0.1))
			lz := step(t, frozen.Model, batch, y, mustSGD(t, 0.1))
			if lf != lz {
				t.Errorf("first-step losses differ: %v, %v", lf, lz)
			}
			df, dz := free.Delta(), frozen.Delta()
			if !reflect.DeepEqual(df.Tables, dz.Tables) {
				t.Error("first step: the frozen replica's embedding rows differ from the free replica's")
			}
			for i, v := range dz.Dense {
				if v != nil {
					t.Errorf("frozen replica changed dense parameter %d", i)
				}
			}
			for i, p := range frozen.p.denses {
				if !equalFloats(p.data, base.p.denses[i].data) {
					t.Errorf("dense parameter %q moved", p.name)
				}
			}
			if len(free.p.denses) > 0 && df.Dense[len(df.Dense)-1] == nil {
				t.Error("the free replica's delta lacks its dense parameters")
			}
			// Longer training, a delta far smaller than the free one's.
			fineTune(t, frozen, train[0], test[0], mustAdam(t, 0.01))
			fineTune(t, free, train[0], test[0], mustAdam(t, 0.01))
			nz, nf := len(frozen.Delta().AppendBinary(nil)), len(free.Delta().AppendBinary(nil))
			if len(free.p.denses) > 1 && nz >= nf {
				t.Errorf("sparse delta %d bytes, full %d", nz, nf)
			}
			t.Logf("delta bytes: sparse %d, all %d", nz, nf)
			// Freezing survives Reset; thawing restores training.
			frozen.Reset()
			step(t, frozen.Model, batch, y, mustSGD(t, 0.1))
			for i, v := range frozen.Delta().Dense {
				if v != nil {
					t.Errorf("after Reset, dense parameter %d moved", i)
				}
			}
		})
	}
}

// TestDecodeDeltaRejects malformed encodings without panicking.
func TestDecodeDeltaRejects(t *testing.T) {
	train, test := userData(2)
	base := pretrained(t, fineConfigs()[1], train)
	r, _ := base.Fork()
	fineTune(t, r, train[0], test[0], mustSGD(t, 0.05))
	enc := r.Delta().AppendBinary(nil)
	for n := range len(enc) {
		if _, err := DecodeDelta(enc[:n], base); err == nil {
			t.Fatalf("a delta truncated to %d of %d bytes decodes", n, len(enc))
		}
	}
	if _, err := DecodeDelta(append(enc[:len(enc):len(enc)], 0), base); err == nil {
		t.Error("trailing byte accepted")
	}
	// A NaN value.
	bad := r.Delta()
	bad.Tables[0].Values[0] = float32(math.NaN())
	if _, err := DecodeDelta(bad.AppendBinary(nil), base); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN value: %v", err)
	}
	// A row out of range.
	bad = r.Delta()
	bad.Tables[0].Rows[len(bad.Tables[0].Rows)-1] = int32(base.p.tables[0].rows)
	if _, err := DecodeDelta(bad.AppendBinary(nil), base); err == nil {
		t.Error("row out of range accepted")
	}
	// ApplyDelta checks shapes.
	bad = r.Delta()
	bad.Dense = bad.Dense[:1]
	if err := r.ApplyDelta(bad); err == nil {
		t.Error("a delta of other shapes applied")
	}
	if r.OverlayRows() != 0 {
		t.Error("a failed ApplyDelta left rows behind")
	}
}

func FuzzDecodeDelta(f *testing.F) {
	train, test := userData(2)
	base := pretrained(f, fineConfigs()[1], train)
	r, _ := base.Fork()
	fineTune(f, r, train[0], test[0], mustSGD(f, 0.05))
	f.Add(r.Delta().AppendBinary(nil))
	r.FreezeDense(true)
	fineTune(f, r, train[1], test[1], mustSGD(f, 0.05))
	f.Add(r.Delta().AppendBinary(nil))
	r.UsePatch(true) // Patch scope: the patch alone
	fineTune(f, r, train[1], test[1], mustSGD(f, 0.05))
	f.Add(r.Delta().AppendBinary(nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDelta(b, base)
		if err != nil {
			return
		}
		rep, _ := base.Fork()
		if err := rep.ApplyDelta(d); err != nil {
			t.Fatalf("decoded delta does not apply: %v", err)
		}
		if !bytes.Equal(d.AppendBinary(nil), b) {
			t.Fatal("decoded delta re-encodes differently")
		}
	})
}

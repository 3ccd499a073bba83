package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// TestExportRoundTrip: the dataset file reads back to the samples that
// were generated, field by field, grouped by user.
func TestExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := export(dir, 50, io.Discard); err != nil {
		t.Fatal(err)
	}
	m, d, err := loadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := data.DefaultSynthConfig()
	cfg.Seed, cfg.NumUsers, cfg.NumItems, cfg.NumCategories = 12, 50, 10000, 20
	cfg.SamplesPerUser, cfg.MinSamplesPerUser, cfg.HistoryLen = 64, 8, 20
	ds, err := data.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ds.Schema, d.schema); diff != "" {
		t.Errorf("schema (-generated +read):\n%s", diff)
	}
	if len(d.samples) != len(ds.Samples) || len(d.userOff) != 51 {
		t.Fatalf("read %d samples and %d user offsets, want %d and 51", len(d.samples), len(d.userOff), len(ds.Samples))
	}
	type flat struct {
		User, Item     int32
		Label          float32
		Cats, Pos, Neg []int32
	}
	flatten := func(s *data.Sample) flat {
		return flat{s.User, s.Item, s.Label, s.Categories(), s.PosHistory(), s.NegHistory()}
	}
	for i := range ds.Samples {
		if diff := cmp.Diff(flatten(&ds.Samples[i]), flatten(&d.samples[i])); diff != "" {
			t.Fatalf("sample %d (-generated +read):\n%s", i, diff)
		}
		if d.labels[i] != ds.Samples[i].Label {
			t.Fatalf("label %d is %v, want %v", i, d.labels[i], ds.Samples[i].Label)
		}
	}
	for k := 0; k+1 < len(d.userOff); k++ {
		for i := d.userOff[k]; i < d.userOff[k+1]; i++ {
			if d.samples[i].User != d.samples[d.userOff[k]].User {
				t.Fatalf("user %d's range holds sample %d of another user", k, i)
			}
		}
	}
	if len(m.CheckIndices) != 32 {
		t.Errorf("check batch of %d samples, want 32", len(m.CheckIndices))
	}
}

// TestCheckGradients: the gradients the check captures are what one SGD
// step with learning rate 1 subtracts from the weights.
func TestCheckGradients(t *testing.T) {
	dir := t.TempDir()
	if err := export(dir, 50, io.Discard); err != nil {
		t.Fatal(err)
	}
	res, err := check(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, d, err := loadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range archs {
		cm := res.Models[a]
		if !(cm.Loss > 0) {
			t.Errorf("%s: loss %v", a, cm.Loss)
		}
		base, err := loadModel(dir, m, a)
		if err != nil {
			t.Fatal(err)
		}
		tables, denses, err := paramNames(base)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := base.Fork()
		if err != nil {
			t.Fatal(err)
		}
		var batch []data.Sample
		var y []float32
		for _, i := range res.Indices {
			batch, y = append(batch, d.samples[i]), append(y, d.labels[i])
		}
		sgd, err := optim.NewSGD(1, 1)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := rep.TrainStep(batch, y, sgd)
		if err != nil {
			t.Fatal(err)
		}
		if float64(loss) != cm.Loss {
			t.Errorf("%s: SGD step loss %v, check loss %v", a, loss, cm.Loss)
		}
		after := rep.Delta()
		w0 := artifactValues(t, base)
		nonzero := 0
		for i, p := range tables {
			g := cm.Tables[p.Name]
			if !slices.Equal(g.Rows, after.Tables[i].Rows) {
				t.Fatalf("%s %s: check rows %v, SGD rows %v", a, p.Name, g.Rows, after.Tables[i].Rows)
			}
			for k, row := range g.Rows {
				for j := range g.Dim {
					want := w0[p.Name][int(row)*g.Dim+j] - g.Values[k*g.Dim+j]
					if got := after.Tables[i].Values[k*g.Dim+j]; got != want {
						t.Fatalf("%s %s row %d: SGD gives %v, weight minus captured gradient %v", a, p.Name, row, got, want)
					}
					if g.Values[k*g.Dim+j] != 0 {
						nonzero++
					}
				}
			}
		}
		for i, p := range denses {
			for j, gv := range cm.Dense[p.Name] {
				want := w0[p.Name][j] - gv
				if got := after.Dense[i][j]; got != want {
					t.Fatalf("%s %s[%d]: SGD gives %v, weight minus captured gradient %v", a, p.Name, j, got, want)
				}
			}
		}
		if nonzero == 0 {
			t.Errorf("%s: every captured table gradient is zero", a)
		}
	}
}

// artifactValues reads every parameter of m from its artifact.
func artifactValues(t *testing.T, m *model.Model) map[string][]float32 {
	t.Helper()
	var buf bytes.Buffer
	if _, err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := int(binary.LittleEndian.Uint32(b[12:16]))
	var h struct {
		Params []paramShape `json:"params"`
	}
	if err := json.Unmarshal(b[16:16+n], &h); err != nil {
		t.Fatal(err)
	}
	off, vals := 16+n, map[string][]float32{}
	for _, p := range h.Params {
		v := make([]float32, p.Shape[0]*p.Shape[1])
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
			off += 4
		}
		vals[p.Name] = v
	}
	if off != len(b) {
		t.Fatalf("artifact has %d bytes after the tensors", len(b)-off)
	}
	return vals
}

func TestMedianAndOffsets(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		off []int32
		n   int
		ok  bool
	}{{[]int32{0, 2, 2, 5}, 5, true}, {[]int32{0, 3, 2, 5}, 5, false}, {[]int32{1, 5}, 5, false}, {[]int32{0, 4}, 5, false}} {
		if err := checkOffsets(c.off, c.n); (err == nil) != c.ok {
			t.Errorf("checkOffsets(%v, %d) = %v, want ok %v", c.off, c.n, err, c.ok)
		}
	}
}

// TestEpochLine: the pattern reads the runner's end-of-epoch lines as the
// runner prints them: serial (trainGlobal in trainer/runner) and
// data-parallel (pretrain_parallel.go, with its worker count). A 2-worker
// line it missed once made peer cores count one epoch of four.
func TestEpochLine(t *testing.T) {
	for _, line := range []string{
		fmt.Sprintf("[pretrain shard 0/1]     9.1s epoch %d/%d: lr %g, loss %.4f, %d samples in %.1f s (%.0f samples/s)", 1, 2, 0.05, 0.6712, 58827, 8.5, 6921.4),
		fmt.Sprintf("[pretrain shard 0/1]     9.1s epoch %d/%d: lr %g, loss %.4f, %d samples in %.1f s (%.0f samples/s, %d workers)", 1, 2, 0.05, 0.6712, 58827, 8.5, 6921.4, 2),
	} {
		m := epochLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("epochLine does not match %q", line)
		}
		if diff := cmp.Diff([]string{"58827", "6921"}, m[1:]); diff != "" {
			t.Errorf("epochLine on %q (-want +got):\n%s", line, diff)
		}
	}
}

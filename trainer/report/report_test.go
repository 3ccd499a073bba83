package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

var nan = runner.Float(math.NaN())

// rows is a hand-made cohort, g = 0.5. Per 10-bucket of local CTR:
//
//	bucket 0: u1 (n 10, Local .6, LCFT .7), u2 (n 30, Local .55, LCFT .5)
//	          LCFT (7+15)/40 = .55, Local (6+16.5)/40 = .5625, lift -.0125
//	bucket 2: u6 (n 4, Local .75, LCFT .25): lift -.5
//	bucket 5: u3 (n 20, .7 everywhere): lift 0
//	bucket 9: u4 (r = 1, n 5, Local .5, LCFT .6): lift .1; u5 single-class
//
// Versus Cloud: u1 and u4 improved, u2 and u3 unchanged, u6 degraded.
func rows() []runner.UserRow {
	return []runner.UserRow{
		{User: "u1", LocalCTR: 0.05, Train: 20, Test: 10, Positive: 1, Negative: 0.47, Corrected: true, Cloud: 0.6, Local: 0.6, LCFT: 0.7},
		{User: "u2", LocalCTR: 0.08, Train: 25, Test: 30, Positive: 1, Negative: 0.45, Corrected: true, Cloud: 0.5, Local: 0.55, LCFT: 0.5},
		{User: "u3", LocalCTR: 0.5, Train: 30, Test: 20, Positive: 1, Negative: 0, Cloud: 0.7, Local: 0.7, LCFT: 0.7},
		{User: "u4", LocalCTR: 1, Train: 8, Test: 5, Positive: 0.5, Negative: 0, Corrected: true, Cloud: 0.4, Local: 0.5, LCFT: 0.6},
		{User: "u5", LocalCTR: 0.95, Train: 9, Test: 3, Positive: 0.53, Negative: 0, Corrected: true, Cloud: nan, Local: nan, LCFT: nan},
		{User: "u6", LocalCTR: 0.25, Train: 12, Test: 4, Positive: 1, Negative: 0.33, Corrected: true, Cloud: 0.5, Local: 0.75, LCFT: 0.25},
	}
}

// handReport is a report of strategy s over rows, aggregates filled in.
func handReport(t *testing.T, strategy string, rs []runner.UserRow) *runner.Report {
	t.Helper()
	r := &runner.Report{
		Name: "test", Shards: 1, Arch: "amd64", Architecture: "WideDeep", ModelURI: "mem://m/model.lcft", ModelDigest: "sha256:00",
		Strategy: strategy, Mode: runner.ModePerUser, GlobalCTR: 0.5,
		Cohort:       runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: 1, Mode: runner.ModePerUser},
		Optimization: runspec.Optimization{Optimizer: "SGD", LearningRate: 0.01, LearningRateDecay: 1, Epochs: 1, BatchSize: 32, Seed: 3},
		Users:        rs,
	}
	if strategy == "None" {
		for i := range r.Users {
			r.Users[i].LCFT = r.Users[i].Local
		}
	}
	if err := Summarize(r, 200); err != nil {
		t.Fatal(err)
	}
	return r
}

func handModel(t *testing.T) ModelResult {
	return ModelResult{Architecture: "WideDeep", Strategies: []*runner.Report{handReport(t, "None", rows()), handReport(t, "Auto", rows())}}
}

func TestLiftBarsMatchHandComputation(t *testing.T) {
	f, err := Build(handModel(t), Options{Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Lift) != 1 || f.Lift[0].Strategy != "Auto" {
		t.Fatalf("lift charts %+v: want Auto only (None's LCFT is Local)", f.Lift)
	}
	bars := f.Lift[0].Bars
	if len(bars) != 10 {
		t.Fatalf("%d buckets", len(bars))
	}
	want := map[int]struct {
		users             int
		lcft, local, lift float64
	}{
		0: {2, 0.55, 0.5625, -0.0125},
		2: {1, 0.25, 0.75, -0.5},
		5: {1, 0.7, 0.7, 0},
		9: {1, 0.6, 0.5, 0.1},
	}
	for k, b := range bars {
		if b.Lo != float64(k)/10 || b.Hi != float64(k+1)/10 {
			t.Errorf("bucket %d is [%v, %v)", k, b.Lo, b.Hi)
		}
		w, ok := want[k]
		if !ok {
			if b.Users != 0 || !math.IsNaN(b.Lift) || !math.IsNaN(b.CILo) {
				t.Errorf("bucket %d: %+v, want empty", k, b)
			}
			continue
		}
		if b.Users != w.users || math.Abs(b.LCFT-w.lcft) > 1e-12 || math.Abs(b.Local-w.local) > 1e-12 || math.Abs(b.Lift-w.lift) > 1e-12 {
			t.Errorf("bucket %d: %d users, LCFT %v, Local %v, lift %v; want %+v", k, b.Users, b.LCFT, b.Local, b.Lift, w)
		}
		if !(b.CILo <= b.Lift+1e-12 && b.Lift <= b.CIHi+1e-12) {
			t.Errorf("bucket %d: lift %v outside its interval [%v, %v]", k, b.Lift, b.CILo, b.CIHi)
		}
		if w.users == 1 && (math.Abs(b.CILo-w.lift) > 1e-12 || math.Abs(b.CIHi-w.lift) > 1e-12) {
			t.Errorf("bucket %d: one user, interval [%v, %v] should collapse to %v", k, b.CILo, b.CIHi, w.lift)
		}
	}
	// The report's own 10 buckets (runner's rule) agree with the chart.
	for k, lb := range f.Lift[0].Bars {
		r := handModel(t).Strategies[1].LiftByCTR[k]
		if r.Users != lb.Users || (r.Lift.Defined() && math.Abs(float64(r.Lift)-lb.Lift) > 1e-15) {
			t.Errorf("bucket %d: report says %+v, chart %+v", k, r, lb)
		}
	}
}

func TestLiftWithoutRowsUsesReportBuckets(t *testing.T) {
	m := handModel(t)
	for _, r := range m.Strategies {
		r.Users = nil
	}
	f, err := Build(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Hist) != 0 || len(f.LocalCTR) != 0 {
		t.Errorf("histogram without rows: %+v", f.Hist)
	}
	b := f.Lift[0].Bars[0]
	if b.Users != 2 || math.Abs(b.Lift+0.0125) > 1e-12 || !math.IsNaN(b.CILo) {
		t.Errorf("bucket 0 from the report: %+v", b)
	}
	if c := f.Changes[1]; c.Improved != 2 || c.Unchanged != 2 || c.Degraded != 1 {
		t.Errorf("Auto changes from the report: %+v", c)
	}
}

func TestHistogramAndChanges(t *testing.T) {
	f, err := Build(handModel(t), Options{Bins: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{2, 0, 1, 0, 0, 1, 0, 0, 0, 2} // r = 1 and r = .95 in the last bin
	for k, b := range f.Hist {
		if b.Users != want[k] {
			t.Errorf("bin %d [%v, %v): %d users, want %d", k, b.Lo, b.Hi, b.Users, want[k])
		}
	}
	if f.GlobalCTR != 0.5 {
		t.Errorf("global CTR %v", f.GlobalCTR)
	}
	if len(f.Changes) != 2 {
		t.Fatalf("changes %+v", f.Changes)
	}
	none, auto := f.Changes[0], f.Changes[1]
	// None: LCFT = Local; vs Cloud u2 and u4 and u6 improved, u1 u3 unchanged.
	if none.Improved != 3 || none.Unchanged != 2 || none.Degraded != 0 {
		t.Errorf("None vs Cloud %+v", none)
	}
	if auto.Improved != 2 || auto.Unchanged != 2 || auto.Degraded != 1 || math.Abs(auto.ImprovedShare-0.4) > 1e-12 {
		t.Errorf("Auto vs Cloud %+v", auto)
	}
	// Histogram edges: values at an edge go up, 1 goes into the last bin.
	h := Histogram([]float64{0, 0.1, 0.2, 0.3, 0.7, 0.9999, 1, -0.1, math.NaN(), 1.1}, 10)
	got := []int{}
	for _, b := range h {
		got = append(got, b.Users)
	}
	if want := []int{1, 1, 1, 1, 0, 0, 0, 1, 0, 2}; !equalInts(got, want) {
		t.Errorf("edge histogram %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
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

// checkPicture verifies that content is a PNG or SVG as named.
func checkPicture(t *testing.T, name string, content []byte) {
	t.Helper()
	switch filepath.Ext(name) {
	case ".png":
		cfg, format, err := image.DecodeConfig(bytes.NewReader(content))
		if err != nil || format != "png" {
			t.Fatalf("%s: not a PNG: %v (%s)", name, err, format)
		}
		if w, h := cfg.Width, cfg.Height; w != int(Width.Dots(DPI)+0.5) || h != int(Height.Dots(DPI)+0.5) {
			t.Errorf("%s: %dx%d pixels", name, w, h)
		}
	case ".svg":
		s := strings.TrimSpace(string(content))
		if !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") {
			t.Fatalf("%s: not an SVG: %.40q", name, s)
		}
		if !strings.Contains(s, "</svg>") {
			t.Errorf("%s: SVG not closed", name)
		}
	default:
		t.Fatalf("unexpected file %s", name)
	}
}

func TestWritePictures(t *testing.T) {
	ctx := context.Background()
	f, err := Build(handModel(t), Options{Dataset: "hand-made"})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{t.TempDir(), "file://" + t.TempDir(), "mem://report-test/out"} {
		uris, err := f.Write(ctx, dir, "wd", Formats)
		if err != nil {
			t.Fatal(err)
		}
		if len(uris) != 6 {
			t.Fatalf("%s: wrote %v", dir, uris)
		}
		for i, chart := range []string{ChartLocalCTR, ChartLocalCTR, ChartLift, ChartLift, ChartChanges, ChartChanges} {
			if !strings.HasSuffix(uris[i], "/wd-"+chart+"."+Formats[i%2]) {
				t.Errorf("uri %d is %s", i, uris[i])
			}
			b, err := storage.ReadAll(ctx, uris[i])
			if err != nil {
				t.Fatal(err)
			}
			checkPicture(t, uris[i], b)
		}
		if !strings.Contains(dir, "://") {
			if _, err := os.Stat(filepath.Join(dir, "wd-lift-by-ctr.png")); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := f.Write(ctx, t.TempDir(), "x", []string{"gif"}); !errors.Is(err, ErrInput) {
		t.Errorf("gif: %v", err)
	}
}

func TestDrawDegenerate(t *testing.T) {
	// All users single-class or in one bucket; no lift at all: still draws.
	rs := []runner.UserRow{{User: "a", LocalCTR: 0.3, Train: 3, Test: 2, Positive: 1, Cloud: nan, Local: nan, LCFT: nan}}
	m := ModelResult{Architecture: "LR", Strategies: []*runner.Report{handReport(t, "Auto", rs)}}
	f, err := Build(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	uris, err := f.Write(context.Background(), "mem://report-test/degenerate", "lr", []string{"png"})
	if err != nil || len(uris) != 3 {
		t.Fatalf("%v %v", uris, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMergesShards(t *testing.T) {
	all := handReport(t, "Auto", rows())
	var shards [2]*runner.Report
	for s := range shards {
		var rs []runner.UserRow
		for i, u := range rows() {
			if i%2 == s {
				rs = append(rs, u)
			}
		}
		shards[s] = handReport(t, "Auto", rs)
		shards[s].Shard, shards[s].Shards = s, 2
	}
	// Given in reverse order: merged in shard order.
	res, err := Decode([]string{"s1.json", "s0.json"}, [][]byte{mustJSON(t, shards[1]), mustJSON(t, shards[0])})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != KindFinetune || len(res.Experiment.Models) != 1 || len(res.Experiment.Models[0].Strategies) != 1 || len(res.Notes) != 0 {
		t.Fatalf("decoded %+v, notes %v", res, res.Notes)
	}
	m := res.Experiment.Models[0].Strategies[0]
	if len(m.Users) != 6 || m.Users[0].User != "u1" || m.Users[1].User != "u3" {
		t.Fatalf("merged users %+v", m.Users)
	}
	for _, c := range []struct {
		name      string
		got, want runner.MethodAUC
	}{{"Cloud", m.Cloud, all.Cloud}, {"Local", m.Local, all.Local}, {"LCFT", m.LCFT, all.LCFT}} {
		if c.got.Users != c.want.Users || math.Abs(float64(c.got.AUC-c.want.AUC)) > 1e-12 {
			t.Errorf("%s: merged %+v, whole %+v", c.name, c.got, c.want)
		}
	}
	if m.VsCloud != all.VsCloud || m.Summary.Users != 6 || m.Summary.SingleClassUsers != 1 {
		t.Errorf("merged changes %+v summary %+v", m.VsCloud, m.Summary)
	}
	// Hand: user-level AUC of LCFT = (7+15+14+3+1)/69.
	if want := 40.0 / 69; math.Abs(float64(m.LCFT.AUC)-want) > 1e-12 {
		t.Errorf("LCFT AUC %v, want %v", m.LCFT.AUC, want)
	}

	// A missing shard is a note; a repeated shard and mixed runs are errors.
	res, err = Decode([]string{"s0.json"}, [][]byte{mustJSON(t, shards[0])})
	if err != nil || len(res.Notes) != 0 {
		t.Fatalf("one shard of two: %v %v", err, res.Notes) // one file is taken as is
	}
	three := *shards[1]
	three.Shard = 0
	if _, err := Decode([]string{"a", "b"}, [][]byte{mustJSON(t, shards[0]), mustJSON(t, &three)}); !errors.Is(err, ErrInput) {
		t.Errorf("shard 0 twice: %v", err)
	}
	other := *shards[1]
	other.GlobalCTR = 0.4
	if _, err := Decode([]string{"a", "b"}, [][]byte{mustJSON(t, shards[0]), mustJSON(t, &other)}); !errors.Is(err, ErrInput) {
		t.Errorf("different runs: %v", err)
	}
	partial := *shards[1]
	partial.Shards = 3
	s0 := *shards[0]
	s0.Shards = 3
	res, err = Decode([]string{"a", "b"}, [][]byte{mustJSON(t, &s0), mustJSON(t, &partial)})
	if err != nil || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "2 of 3 shards") {
		t.Errorf("2 of 3 shards: %v %v", err, res.Notes)
	}
}

func TestDecodeKinds(t *testing.T) {
	m := handModel(t)
	m.Pretrain = &runspec.PretrainStats{GlobalCTR: 0.5, Users: 6, Samples: 104, CloudAUC: 0.6, Seconds: 1.5}
	e := &Experiment{
		Dataset:     runspec.Dataset{Format: "Synthetic", Synthetic: &runspec.Synthetic{Users: 6, Items: 10, Categories: 2, SamplesPerUser: 20, GlobalCTR: 0.5, Drift: 0.9, Seed: 7}, Split: runspec.Split{Method: runner.SplitPerUserFraction}},
		Pretraining: runspec.Optimization{Optimizer: "SGD", LearningRate: 1, LearningRateDecay: 0.1, Epochs: 2, BatchSize: 32, Seed: 3},
		FineTuning:  m.Strategies[0].Optimization, Cohort: m.Strategies[0].Cohort, Models: []ModelResult{m}, WallSeconds: 4.2,
	}
	res, err := Decode([]string{"e.json"}, [][]byte{mustJSON(t, e)})
	if err != nil || res.Kind != KindExperiment {
		t.Fatalf("%v %+v", err, res)
	}
	sel, err := res.Experiment.Select([]string{"widedeep"}, []string{"auto"})
	if err != nil || len(sel) != 1 || len(sel[0].Strategies) != 1 || sel[0].Strategies[0].Strategy != "Auto" {
		t.Fatalf("select: %v %+v", err, sel)
	}
	if _, err := res.Experiment.Select([]string{"DIN"}, nil); !errors.Is(err, ErrInput) {
		t.Errorf("select a missing model: %v", err)
	}
	if _, err := res.Experiment.Select(nil, []string{"Hard"}); !errors.Is(err, ErrInput) {
		t.Errorf("select a missing strategy: %v", err)
	}
	if got := DatasetLabel(e.Dataset); got != "Synthetic, drift 0.9, seed 7" {
		t.Errorf("label %q", got)
	}
	var md bytes.Buffer
	if err := Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| model | strategy | users | Cloud | Local | LCFT | LCFT−Local [95% CI] | LCFT−Cloud [95% CI] | improved / unchanged / degraded |",
		"| WideDeep | Auto | 5 |", "| 2 / 2 / 1 |", "drift 0.9, data seed 7", "SGD lr 1 (×0.1 per epoch), 2 epoch(s), batch 32, seed 3",
		"| WideDeep | 0.5000 | 6 | 104 | 0.60000 | 1.5 |", "wall time of the whole run: 4.2 s",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	cells := []runspec.GridCell{{Positive: 1, Negative: 0, Source: "identity"}, {Positive: 1, Negative: 0.375, Source: "softNegative×1"}}
	sr := &runner.SearchReport{Architecture: "WideDeep", GlobalCTR: 0.5, HoldoutFraction: 0.2, Seeds: []uint64{1, 2}, MinSamples: 5, Edges: []float64{0, 0.5, 1},
		Result: &runspec.SearchResult{Groups: []runspec.SearchGroupResult{{Min: 0, Max: 0.5, Users: 3, ScoredUsers: 2, MeanLocalCTR: 0.2,
			Chosen: cells[1], LiftVsAuto: runspec.Interval{Mean: 0.01, Lo: 0.002, Hi: 0.018}, LiftVsLocal: runspec.Interval{Mean: 0.05, Lo: -0.01, Hi: 0.11},
			Best: 1, Cells: []runspec.CellResult{{GridCell: cells[0]}, {GridCell: cells[1], LiftVsAuto: runspec.Interval{Mean: 0.01, Lo: 0.002, Hi: 0.018}}},
			Reason: runspec.ReasonBeatsAuto}}},
		Table: []runspec.LabelGroup{{Min: 0, Max: 0.5, Positive: 1, Negative: 0.375}}}
	res, err = Decode([]string{"search-report-shard-0.json"}, [][]byte{mustJSON(t, sr)})
	if err != nil || res.Kind != KindSearch {
		t.Fatalf("%v %+v", err, res)
	}
	md.Reset()
	if err := Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	if want := "| [0.000, 0.500) | 3 (2) | 0.200 | (1.000, 0.375) softNegative×1 | BeatsAuto | **+0.01000 [+0.00200, +0.01800]** | +0.05000 [−0.01000, +0.11000] | (1.000, 0.375) softNegative×1 | **+0.01000 [+0.00200, +0.01800]** |"; !strings.Contains(md.String(), want) {
		t.Errorf("search markdown lacks %q:\n%s", want, md.String())
	}

	for name, b := range map[string]string{"not JSON": "{", "array": "[]", "other object": `{"kind": "pretrain"}`} {
		if _, err := Decode([]string{name}, [][]byte{[]byte(b)}); !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Decode([]string{"e", "f"}, [][]byte{mustJSON(t, e), mustJSON(t, e)}); !errors.Is(err, ErrInput) {
		t.Errorf("two experiments: %v", err)
	}
}

func TestCIBoldWhenExcludingZero(t *testing.T) {
	if got := ciCell(runner.Interval{Mean: 0.002, Lo: 0.001, Hi: 0.003}); got != "**+0.00200 [+0.00100, +0.00300]**" {
		t.Errorf("%q", got)
	}
	if got := ciCell(runner.Interval{Mean: -0.002, Lo: -0.004, Hi: 0.001}); got != "−0.00200 [−0.00400, +0.00100]" {
		t.Errorf("%q", got)
	}
	if got := ciCell(runner.Interval{Mean: nan, Lo: nan, Hi: nan}); got != "–" {
		t.Errorf("%q", got)
	}
}

func TestDatasetLineAmazon(t *testing.T) {
	d := runspec.Dataset{Format: "Amazon", URI: "/data/amazon", Negatives: &runspec.Negatives{Seed: 3},
		Split: runspec.Split{Method: runner.SplitTimestamp, Timestamp: 1385078400}}
	want := "Amazon `/data/amazon`, every row a positive with 5 sampled negatives (seed 3); split Timestamp at Unix time 1385078400"
	if got := datasetLine(d); got != want {
		t.Errorf("datasetLine = %q, want %q", got, want)
	}
}

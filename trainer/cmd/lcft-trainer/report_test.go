package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/report"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// checkPictures checks that each printed URI is a PNG or SVG.
func checkPictures(t *testing.T, out string, want int) []string {
	t.Helper()
	uris := strings.Fields(out)
	if len(uris) != want {
		t.Fatalf("printed %d URIs, want %d: %q", len(uris), want, out)
	}
	for _, u := range uris {
		b, err := storage.ReadAll(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(u, ".png"):
			if _, format, err := image.DecodeConfig(bytes.NewReader(b)); err != nil || format != "png" {
				t.Errorf("%s: not a PNG: %v", u, err)
			}
		case strings.HasSuffix(u, ".svg"):
			if !bytes.HasPrefix(b, []byte("<?xml")) && !bytes.HasPrefix(b, []byte("<svg")) {
				t.Errorf("%s: not an SVG: %.30q", u, b)
			}
		default:
			t.Errorf("unexpected output %s", u)
		}
	}
	return uris
}

func TestReportFromExperiment(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "exp.json")
	synth := []string{"--format", "Synthetic", "--synth-users", "80", "--synth-items", "60", "--synth-samples-per-user", "25", "--synth-drift", "0.85", "--synth-data-seed", "5"}
	code, _, stderr := lcft(t, append([]string{"experiment", "--arch", "LR,WideDeep", "--embedding-dim", "4", "--hidden", "8",
		"--strategies", "None,Auto,SoftNegative", "--ft-lr", "0.1", "--out", results, "--per-user"}, synth...)...)
	if code != 0 {
		t.Fatalf("experiment exited %d: %s", code, stderr)
	}

	// Default out dir: beside the input; one set of pictures per model.
	code, out, stderr := lcft(t, "report", "--in", results)
	if code != 0 {
		t.Fatalf("report exited %d: %s", code, stderr)
	}
	uris := checkPictures(t, out, 2*3*2)
	if uris[0] != filepath.Join(dir, "exp-lr-local-ctr.png") || uris[11] != filepath.Join(dir, "exp-widedeep-auc-changes.svg") {
		t.Errorf("URIs %v", uris)
	}

	// Selection, PNG only, mem:// output, markdown on stdout.
	code, out, stderr = lcft(t, "report", "--in", results, "--arch", "WideDeep", "--strategies", "None,Auto", "--formats", "png",
		"--out", "mem://report-cli/x", "--prefix", "wd", "--markdown", "-")
	if code != 0 {
		t.Fatalf("report exited %d: %s", code, stderr)
	}
	md, pics, _ := strings.Cut(out, "mem://")
	checkPictures(t, "mem://"+pics, 3)
	for _, want := range []string{"| WideDeep | Auto |", "| LR | SoftNegative |", "LCFT−Local [95% CI]", "drift 0.85"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if !strings.HasPrefix(pics, "report-cli/x/wd-widedeep-local-ctr.png") {
		t.Errorf("pictures %q", pics)
	}

	// The report package's Experiment reads every field of the CLI's
	// ExperimentResult, and recomputing a report from its rows gives the
	// runner's own aggregates.
	raw, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var cli ExperimentResult
	var rep report.Experiment
	if err := json.Unmarshal(raw, &cli); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(mustMarshal(t, &cli), &a)
	_ = json.Unmarshal(mustMarshal(t, &rep), &b)
	if !reflect.DeepEqual(a, b) {
		t.Error("report.Experiment and ExperimentResult encode differently: keep them field-for-field compatible")
	}
	for _, m := range rep.Models {
		for _, r := range m.Strategies {
			again := *r
			again.Users = append([]runner.UserRow(nil), r.Users...)
			if err := report.Summarize(&again, r.LCFTvsLocal.Resamples); err != nil {
				t.Fatal(err)
			}
			near := func(x, y runner.Float) bool {
				return (!x.Defined() && !y.Defined()) || math.Abs(float64(x-y)) < 1e-12
			}
			if !near(again.LCFT.AUC, r.LCFT.AUC) || !near(again.Cloud.AUC, r.Cloud.AUC) || again.VsCloud != r.VsCloud ||
				!near(again.LCFTvsLocal.Lo, r.LCFTvsLocal.Lo) || !near(again.LCFTvsLocal.Hi, r.LCFTvsLocal.Hi) ||
				again.Summary.CorrectedUsers != r.Summary.CorrectedUsers || again.Summary.SingleClassUsers != r.Summary.SingleClassUsers {
				t.Errorf("%s %s: recomputed %+v / %+v, runner %+v / %+v", m.Architecture, r.Strategy, again.LCFT, again.LCFTvsLocal, r.LCFT, r.LCFTvsLocal)
			}
			for k := range r.LiftByCTR {
				if again.LiftByCTR[k].Users != r.LiftByCTR[k].Users || !near(again.LiftByCTR[k].Lift, r.LiftByCTR[k].Lift) {
					t.Errorf("%s %s bucket %d: recomputed %+v, runner %+v", m.Architecture, r.Strategy, k, again.LiftByCTR[k], r.LiftByCTR[k])
				}
			}
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReportFromFinetuneShard(t *testing.T) {
	dir := t.TempDir()
	synth := []string{"--format", "Synthetic", "--synth-users", "60", "--synth-items", "40", "--synth-samples-per-user", "20", "--synth-drift", "0.8"}
	if code, _, stderr := lcft(t, append([]string{"pretrain", "--arch", "LR", "--out", dir}, synth...)...); code != 0 {
		t.Fatalf("pretrain: %s", stderr)
	}
	if code, _, stderr := lcft(t, append([]string{"finetune", "--model", filepath.Join(dir, "model.lcft"), "--min-samples", "1", "--lr", "0.1", "--out", dir}, synth...)...); code != 0 {
		t.Fatalf("finetune: %s", stderr)
	}
	in := filepath.Join(dir, runner.ReportFile(0))
	code, out, stderr := lcft(t, "report", "--in", in, "--formats", "svg")
	if code != 0 {
		t.Fatalf("report exited %d: %s", code, stderr)
	}
	uris := checkPictures(t, out, 3)
	if uris[1] != filepath.Join(dir, "report-shard-0-lift-by-ctr.svg") {
		t.Errorf("URIs %v", uris)
	}
}

func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.json")
	if err := os.WriteFile(junk, []byte(`{"hello": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"no --in":      {"report"},
		"missing file": {"report", "--in", filepath.Join(dir, "none.json")},
		"not a result": {"report", "--in", junk},
		"bad format":   {"report", "--in", junk, "--formats", "gif"},
	} {
		if code, _, stderr := lcft(t, args...); code != 2 || stderr == "" {
			t.Errorf("%s: exit %d (want 2), stderr %q", name, code, stderr)
		}
	}
}

func TestDirOfAndStem(t *testing.T) {
	for in, want := range map[string]string{
		"runs/x/report.json":            "runs/x",
		"report.json":                   ".",
		"file:///tmp/a/b.json":          "file:///tmp/a",
		"mem://bucket/k/r.json":         "mem://bucket/k",
		"mem://bucket/r.json":           "mem://bucket",
		"s3://b/runs/x.json?region=eu1": "s3://b/runs?region=eu1",
	} {
		if got := dirOf(in); got != want {
			t.Errorf("dirOf(%q) = %q, want %q", in, got, want)
		}
	}
	if got := stem("s3://b/runs/report-shard-3.json?region=x"); got != "report-shard-3" {
		t.Errorf("stem %q", got)
	}
}

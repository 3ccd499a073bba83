package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// lcft runs the command in-process and returns its exit code and output.
func lcft(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenThenExperiment(t *testing.T) {
	dir := t.TempDir()
	samples := filepath.Join(dir, "samples.csv")
	code, out, stderr := lcft(t, "gen", "--users", "120", "--items", "80", "--samples-per-user", "25", "--drift", "0.8", "--data-seed", "3", "--out", samples)
	if code != 0 {
		t.Fatalf("gen exited %d: %s", code, stderr)
	}
	if !strings.Contains(out, "samples of 120 users") {
		t.Errorf("gen printed %q", out)
	}
	if b, err := os.ReadFile(samples); err != nil || !strings.HasPrefix(string(b), "user,item,categories,label,timestamp\n") {
		t.Fatalf("gen output: %v %.60q", err, b)
	}

	results := filepath.Join(dir, "results.json")
	code, out, stderr = lcft(t, "experiment", "--data", samples, "--format", "Samples", "--arch", "LR,WideDeep",
		"--embedding-dim", "4", "--hidden", "8", "--strategies", "None,Auto", "--ft-lr", "0.1", "--out", results, "--per-user")
	if code != 0 {
		t.Fatalf("experiment exited %d: %s", code, stderr)
	}
	t.Log("\n" + out)
	for _, want := range []string{"LCFT-Local [95% CI]", "improved/unchanged/degraded", "wall time", "WideDeep", "Auto"} {
		if !strings.Contains(out, want) {
			t.Errorf("experiment output lacks %q", want)
		}
	}
	if !strings.Contains(stderr, "per-user fine-tuning") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var res ExperimentResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Models) != 2 || len(res.Models[1].Strategies) != 2 || res.Models[1].Strategies[1].Strategy != "Auto" {
		t.Fatalf("results JSON has %d models", len(res.Models))
	}
	none := res.Models[0].Strategies[0]
	if none.LCFT.AUC != none.Local.AUC || len(none.Users) == 0 {
		t.Errorf("strategy None: LCFT %v should equal Local %v; %d user rows", none.LCFT.AUC, none.Local.AUC, len(none.Users))
	}
}

func TestRunBadSpec(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "spec.json")
	termLog := filepath.Join(dir, "termination-log")
	for name, content := range map[string]string{
		"not JSON":        "{",
		"unknown field":   `{"version": 1, "kind": "pretrain", "bogus": true}`,
		"invalid version": `{"version": 9, "kind": "pretrain", "outputURI": "mem://x", "shards": 1, "optimization": {"epochs": 1, "batchSize": 1, "learningRate": 1}, "model": {"architecture": "LR"}}`,
		"missing data":    `{"version": 1, "kind": "pretrain", "outputURI": "mem://x", "shards": 1, "optimization": {"epochs": 1, "batchSize": 1, "learningRate": 1}, "model": {"architecture": "LR"}, "dataset": {"format": "Samples", "uri": "` + filepath.Join(dir, "none.csv") + `"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(specPath, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(termLog)
			code, _, stderr := lcft(t, "run", "--spec", specPath, "--termination-log", termLog)
			if code != runspec.ExitBadInput {
				t.Fatalf("exit code %d, want %d; stderr %s", code, runspec.ExitBadInput, stderr)
			}
			b, err := os.ReadFile(termLog)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := runspec.DecodeSummary(string(b))
			if err != nil || sum.Error == "" || sum.Arch == "" {
				t.Fatalf("termination log %q: %v", b, err)
			}
			t.Log(sum.Error)
		})
	}
	t.Run("missing spec file", func(t *testing.T) {
		code, _, _ := lcft(t, "run", "--spec", filepath.Join(dir, "nope.json"), "--termination-log", termLog)
		if code != runspec.ExitBadInput {
			t.Errorf("exit code %d", code)
		}
	})
}

// TestRunAsAJob plays the cluster: a pretraining Job, then a two-shard
// fine-tuning Job whose shard comes from JOB_COMPLETION_INDEX.
func TestRunAsAJob(t *testing.T) {
	dir := t.TempDir()
	out := "file://" + filepath.ToSlash(dir) + "/artifacts"
	ds := runspec.Dataset{Format: "Synthetic", Synthetic: &runspec.Synthetic{Users: 80, Items: 60, Categories: 5, SamplesPerUser: 20, GlobalCTR: 0.4, Drift: 0.7, Seed: 2}}
	writeSpec := func(s runspec.Spec) string {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, string(s.Kind)+".json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	termLog := filepath.Join(dir, "termination-log")
	readSummary := func() *runspec.Summary {
		b, err := os.ReadFile(termLog)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := runspec.DecodeSummary(string(b))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	pre := writeSpec(runspec.Spec{Version: 1, Kind: runspec.KindPretrain, Dataset: ds, Model: &runspec.Model{Architecture: "LR"},
		Optimization: runspec.Optimization{LearningRate: 1, LearningRateDecay: 0.1, Epochs: 2, BatchSize: 32, Seed: 1}, OutputURI: out + "/model", Shards: 1})
	if code, _, stderr := lcft(t, "run", "--spec", pre, "--termination-log", termLog); code != 0 {
		t.Fatalf("pretrain exited %d: %s", code, stderr)
	}
	p := readSummary().Pretrain
	ft := runspec.Spec{Version: 1, Kind: runspec.KindFinetune, Dataset: ds,
		GlobalModel:  &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR},
		Optimization: runspec.Optimization{LearningRate: 0.05, Epochs: 1, BatchSize: 32, Seed: 1},
		Correction:   &runspec.Correction{Strategy: "Auto"}, Cohort: &runspec.Cohort{MaxCTR: 1, MinSamples: 5},
		OutputURI: out + "/cohort", Shards: 2}
	ftPath := writeSpec(ft)
	t.Setenv(runspec.EnvShardIndex, "1")
	t.Setenv(runspec.EnvShardCount, "2")
	if code, _, stderr := lcft(t, "run", "--spec", ftPath, "--termination-log", termLog); code != 0 {
		t.Fatalf("finetune exited %d: %s", code, stderr)
	}
	sum := readSummary()
	if sum.Shard != 1 || sum.Finetune == nil || sum.Finetune.Users == 0 || !strings.HasSuffix(sum.ReportURI, "report-shard-1.json") {
		t.Fatalf("shard 1 summary %+v", sum)
	}
	// The shard's pictures lie beside its report, where status.reportURI points.
	for _, pic := range []string{"local-ctr", "lift-by-ctr", "auc-changes"} {
		for _, ext := range []string{"png", "svg"} {
			name := filepath.Join(dir, "artifacts", "cohort", "report-shard-1-"+pic+"."+ext)
			if st, err := os.Stat(name); err != nil || st.Size() == 0 {
				t.Errorf("picture %s: %v", name, err)
			}
		}
	}
	// A shard count that disagrees with the spec is bad input.
	t.Setenv(runspec.EnvShardCount, "3")
	if code, _, _ := lcft(t, "run", "--spec", ftPath, "--termination-log", termLog); code != runspec.ExitBadInput {
		t.Errorf("mismatched shard count: exit %d", code)
	}
	if s := readSummary(); s.Error == "" || s.Kind != runspec.KindFinetune {
		t.Errorf("error summary %+v", s)
	}
}

func TestErrorSummaryFits(t *testing.T) {
	long := errString(strings.Repeat("données illisibles ", 1000))
	b := errorSummary(runspec.KindSearch, 3, long)
	if len(b) > runspec.MaxSummaryBytes || !utf8.Valid(b) {
		t.Fatalf("error summary of %d bytes (valid UTF-8: %v)", len(b), utf8.Valid(b))
	}
	sum, err := runspec.DecodeSummary(string(b))
	if err != nil || sum.Shard != 3 || !strings.HasPrefix(sum.Error, "données") {
		t.Fatalf("decoded %+v, %v", sum, err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestHelpAndUsage(t *testing.T) {
	code, out, _ := lcft(t, "help")
	if code != 0 || !strings.Contains(out, "Exit codes") || !strings.Contains(out, "2  bad input") {
		t.Errorf("help exited %d: %q", code, out)
	}
	if code, _, _ := lcft(t, "frobnicate"); code != runspec.ExitBadInput {
		t.Errorf("unknown command exited %d", code)
	}
	if code, _, _ := lcft(t, "experiment", "--no-such-flag"); code != runspec.ExitBadInput {
		t.Errorf("bad flag exited %d", code)
	}
	if code, _, _ := lcft(t); code != runspec.ExitBadInput {
		t.Errorf("no command exited %d", code)
	}
}

// TestExperimentHardOverSeeds: Hard needs a holdout; with one, the
// experiment searches per seed and prints the tables over seeds, and its
// JSON carries them.
func TestExperimentHardOverSeeds(t *testing.T) {
	dir := t.TempDir()
	synth := []string{"--format", "Synthetic", "--synth-users", "150", "--synth-samples-per-user", "30", "--synth-drift", "0.8",
		"--arch", "WideDeep", "--embedding-dim", "4", "--hidden", "8", "--strategies", "None,Auto,Hard", "--ft-lr", "0.1", "--seeds", "1,2"}
	if code, _, stderr := lcft(t, append([]string{"experiment"}, synth...)...); code != runspec.ExitBadInput || !strings.Contains(stderr, "--holdout-fraction") {
		t.Errorf("Hard without a holdout: exit %d, %s", code, stderr)
	}
	results := filepath.Join(dir, "hard.json")
	code, out, stderr := lcft(t, append([]string{"experiment", "--holdout-fraction", "0.2", "--out", results}, synth...)...)
	if code != 0 {
		t.Fatalf("experiment exited %d: %s", code, stderr)
	}
	for _, want := range []string{"seeds [1 2]", "WideDeep seed 2:", "lift vs Auto [95% CI]", "over seeds [1 2]", "Hard-Auto"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var res ExperimentResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Models) != 2 || res.Models[1].Seed != 2 || res.Models[0].Search == nil || len(res.SeedAveraged) != 3 || len(res.Comparisons) != 1 {
		t.Errorf("results: %d models, seed %d, search %v, %d averaged, %d comparisons", len(res.Models), res.Models[1].Seed, res.Models[0].Search != nil, len(res.SeedAveraged), len(res.Comparisons))
	}
	for _, m := range res.Models {
		if m.Pretrain.HoldoutSamples == 0 || m.Pretrain.HoldoutFraction != 0.2 {
			t.Errorf("seed %d: pretraining held out %d rows (fraction %v)", m.Seed, m.Pretrain.HoldoutSamples, m.Pretrain.HoldoutFraction)
		}
	}
}

// TestExperimentPatchDeltas: experiment --ft-scope Patch --user-models
// Deltas saves each user's patch alone: for Wide&Deep with one hidden
// layer of 8, 8 tables of 1 byte, the marked dense count (1), the patch
// length (1) and 16 float32 values: 74 bytes per user.
func TestExperimentPatchDeltas(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "patch.json")
	code, _, stderr := lcft(t, "experiment", "--format", "Synthetic", "--synth-users", "60", "--synth-samples-per-user", "20",
		"--arch", "WideDeep", "--embedding-dim", "4", "--hidden", "8", "--strategies", "Auto", "--ft-lr", "0.1",
		"--ft-scope", "Patch", "--user-models", "Deltas", "--work", "file://"+filepath.Join(dir, "work"), "--out", results)
	if code != 0 {
		t.Fatalf("experiment exited %d: %s", code, stderr)
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var res ExperimentResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	rep := res.Models[0].Strategies[0]
	um := rep.UserModels
	if um == nil || um.Scope != "Patch" || int64(um.Users) != rep.Summary.Users || um.Users == 0 || um.Bytes != int64(74*um.Users) {
		t.Fatalf("user models %+v for %d users", um, rep.Summary.Users)
	}
}

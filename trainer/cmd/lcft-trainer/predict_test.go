package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// scoreRow is one line of predict's output.
type scoreRow struct {
	user, item string
	ts         int64
	score      float32
}

func readScores(t *testing.T, path string) []scoreRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "user,item,timestamp,score" {
		t.Fatalf("scores header %v", recs[:min(1, len(recs))])
	}
	var out []scoreRow
	for _, r := range recs[1:] {
		ts, err := strconv.ParseInt(r[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		s, err := strconv.ParseFloat(r[3], 32)
		if err != nil || !(s > 0 && s < 1) {
			t.Fatalf("score %q: %v", r[3], err)
		}
		out = append(out, scoreRow{r[0], r[1], ts, float32(s)})
	}
	return out
}

// TestPredict pretrains a model and fine-tunes a Pooled group model with
// the CLI, then scores a file with predict: every row is scored, in the
// data's order, with exactly the probability the model gives the row (its
// histories from the user's earlier rows); rows with unknown ids are
// counted and change no other score; Parquet input gives the same scores;
// the group model scores differently from the global model; a wrong digest
// is bad input.
func TestPredict(t *testing.T) {
	dir := t.TempDir()
	samples := filepath.Join(dir, "samples.csv")
	if code, _, stderr := lcft(t, "gen", "--users", "60", "--items", "50", "--samples-per-user", "25", "--drift", "0.8", "--data-seed", "4", "--out", samples); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	code, out, stderr := lcft(t, "pretrain", "--data", samples, "--format", "Samples", "--arch", "WideDeep", "--embedding-dim", "4", "--hidden", "8", "--history-len", "6", "--out", filepath.Join(dir, "global"))
	if code != 0 {
		t.Fatalf("pretrain: %s", stderr)
	}
	globalModel := filepath.Join(dir, "global", runner.ModelFile)
	digest := field(t, out, "digest")
	code, out, stderr = lcft(t, "finetune", "--data", samples, "--format", "Samples", "--history-len", "6", "--model", globalModel, "--mode", "Pooled",
		"--strategy", "Auto", "--lr", "0.1", "--out", filepath.Join(dir, "pooled"))
	if code != 0 {
		t.Fatalf("finetune: %s", stderr)
	}
	groupModel := filepath.Join(dir, "pooled", runner.GroupModelFile)
	if !strings.Contains(out, "group model") || !strings.Contains(out, groupModel) {
		t.Fatalf("finetune output names no group model:\n%s", out)
	}

	// Score the training file itself with the global model.
	scores := filepath.Join(dir, "scores.csv")
	code, out, stderr = lcft(t, "predict", "--model", globalModel, "--digest", digest, "--data", samples, "--out", scores)
	if code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	t.Log("\n" + out)
	got := readScores(t, scores)

	// The reference: the same rows through the library, logits by the model.
	ctx := context.Background()
	m, _, err := runner.LoadModel(ctx, &runspec.ModelArtifact{URI: globalModel})
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := runner.LoadDataset(ctx, runspec.Dataset{Format: runner.FormatSamples, URI: samples, HistoryLength: m.Schema().HistoryLen}, data.Selection{Vocab: m.Provenance().Vocab})
	if err != nil {
		t.Fatal(err)
	}
	if m.Schema().HistoryLen != 6 {
		t.Fatalf("model history length %d", m.Schema().HistoryLen)
	}
	z := make([]float32, len(ds.Samples))
	if err := m.Predict(ds.Samples, z); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ds.Samples) || !strings.Contains(out, fmt.Sprintf("%d rows of 60 users", len(got))) || !strings.Contains(out, "0 rows not scored") {
		t.Fatalf("predict scored %d rows, the file has %d; output:\n%s", len(got), len(ds.Samples), out)
	}
	histories := 0
	for i, s := range ds.Samples {
		want := scoreRow{ds.Vocab.Users.Name(s.User), ds.Vocab.Items.Name(s.Item), s.Timestamp, model.Sigmoid(z[i])}
		if got[i] != want {
			t.Fatalf("row %d: %+v, want %+v", i, got[i], want)
		}
		if len(s.PosHistory())+len(s.NegHistory()) > 0 {
			histories++
		}
	}
	if histories == 0 {
		t.Error("no scored row has a history")
	}

	// Rows the model cannot score: an unknown user, and an unknown item of
	// a known user (which must not enter that user's histories).
	raw, err := os.ReadFile(samples)
	if err != nil {
		t.Fatal(err)
	}
	known := got[len(got)/2]
	extra := fmt.Sprintf("stranger,%s,,1,100\n%s,new-item,,1,%d\n", known.item, known.user, known.ts-1)
	withUnknown := filepath.Join(dir, "with-unknown.csv")
	if err := os.WriteFile(withUnknown, append(raw, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	scores2 := filepath.Join(dir, "scores2.csv")
	code, out, stderr = lcft(t, "predict", "--model", globalModel, "--data", withUnknown, "--out", scores2)
	if code != 0 {
		t.Fatalf("predict with unknown ids: %s", stderr)
	}
	if !strings.Contains(out, "2 rows not scored: 1 users, 1 items unknown") {
		t.Errorf("unknown ids not reported:\n%s", out)
	}
	if got2 := readScores(t, scores2); !equalRows(got2, got) {
		t.Error("rows with unknown ids changed the other rows' scores")
	}

	// Parquet input: the same rows, the same scores.
	pq := filepath.Join(dir, "samples.parquet")
	if code, _, stderr := lcft(t, "gen", "--users", "60", "--items", "50", "--samples-per-user", "25", "--drift", "0.8", "--data-seed", "4", "--out", pq); code != 0 {
		t.Fatalf("gen parquet: %s", stderr)
	}
	scoresPQ := filepath.Join(dir, "scores-pq.csv")
	if code, _, stderr := lcft(t, "predict", "--model", globalModel, "--data", pq, "--out", scoresPQ); code != 0 {
		t.Fatalf("predict parquet: %s", stderr)
	}
	if !equalRows(readScores(t, scoresPQ), got) {
		t.Error("Parquet input scored differently from the same rows as CSV")
	}

	// The Pooled cohort's group model serves different scores.
	scoresGroup := filepath.Join(dir, "scores-group.csv")
	if code, _, stderr := lcft(t, "predict", "--model", groupModel, "--data", samples, "--out", scoresGroup); code != 0 {
		t.Fatalf("predict with the group model: %s", stderr)
	}
	group := readScores(t, scoresGroup)
	differ := 0
	for i := range group {
		if group[i].user != got[i].user || group[i].item != got[i].item {
			t.Fatalf("row %d: group model scored %+v, global %+v", i, group[i], got[i])
		}
		if group[i].score != got[i].score {
			differ++
		}
	}
	if differ == 0 {
		t.Error("the group model scores every row as the global model")
	}

	// Bad input: a wrong digest, a missing file, a missing flag.
	for name, args := range map[string][]string{
		"wrong digest": {"predict", "--model", globalModel, "--digest", "sha256:" + strings.Repeat("0", 64), "--data", samples, "--out", filepath.Join(dir, "x.csv")},
		"missing data": {"predict", "--model", globalModel, "--data", filepath.Join(dir, "none.csv"), "--out", filepath.Join(dir, "x.csv")},
		"no model":     {"predict", "--data", samples, "--out", filepath.Join(dir, "x.csv")},
		"synthetic":    {"predict", "--model", globalModel, "--data", samples, "--format", "Synthetic", "--out", filepath.Join(dir, "x.csv")},
	} {
		if code, _, stderr := lcft(t, args...); code != runspec.ExitBadInput {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, runspec.ExitBadInput, stderr)
		}
	}
}

func equalRows(a, b []scoreRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] || math.Float32bits(a[i].score) != math.Float32bits(b[i].score) {
			return false
		}
	}
	return true
}

// field returns the value after name in tabwriter output.
func field(t *testing.T, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no %q in %q", name, out)
	return ""
}

// TestPredictWithUserModels: a PerUser fine-tune with --user-models
// Deltas, then predict with the file: its users are scored with their own
// model (the delta applied to the global model), exactly as the library
// applies it; the file made from another model is refused.
func TestPredictWithUserModels(t *testing.T) {
	dir := t.TempDir()
	samples := filepath.Join(dir, "samples.csv")
	if code, _, stderr := lcft(t, "gen", "--users", "50", "--items", "40", "--samples-per-user", "25", "--drift", "0.8", "--data-seed", "5", "--out", samples); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	if code, _, stderr := lcft(t, "pretrain", "--data", samples, "--format", "Samples", "--arch", "DeepFM", "--embedding-dim", "4", "--hidden", "8", "--out", filepath.Join(dir, "global")); code != 0 {
		t.Fatalf("pretrain: %s", stderr)
	}
	globalModel := filepath.Join(dir, "global", runner.ModelFile)
	// Scope Sparse, and Patch (a delta of the patch alone).
	var deltas string
	for _, scope := range []string{"Sparse", "Patch"} {
		code, out, stderr := lcft(t, "finetune", "--data", samples, "--format", "Samples", "--model", globalModel, "--user-models", "Deltas", "--scope", scope,
			"--lr", "0.1", "--out", filepath.Join(dir, "per-user-"+scope))
		if code != 0 {
			t.Fatalf("finetune: %s", stderr)
		}
		deltas = filepath.Join(dir, "per-user-"+scope, runner.UserModelsFile(0))
		if !strings.Contains(out, "user models") || !strings.Contains(out, deltas) {
			t.Fatalf("finetune output names no user models:\n%s", out)
		}
		plain, personal := filepath.Join(dir, "plain.csv"), filepath.Join(dir, "personal-"+scope+".csv")
		if code, _, stderr := lcft(t, "predict", "--model", globalModel, "--data", samples, "--out", plain); code != 0 {
			t.Fatalf("predict: %s", stderr)
		}
		code, out, stderr = lcft(t, "predict", "--model", globalModel, "--data", samples, "--user-models", deltas, "--out", personal)
		if code != 0 {
			t.Fatalf("predict with user models: %s", stderr)
		}
		t.Log("\n" + out)
		ctx := context.Background()
		um, err := runner.ReadUserModels(ctx, deltas)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, fmt.Sprintf("%d users scored with their own delta", len(um.Index.Users))) {
			t.Errorf("output does not count the %d users of the file:\n%s", len(um.Index.Users), out)
		}
		m, _, err := runner.LoadModel(ctx, &runspec.ModelArtifact{URI: globalModel})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := m.Fork()
		if err != nil {
			t.Fatal(err)
		}
		ds, _, err := runner.LoadDataset(ctx, runspec.Dataset{Format: runner.FormatSamples, URI: samples, HistoryLength: m.Schema().HistoryLen}, data.Selection{Vocab: m.Provenance().Vocab})
		if err != nil {
			t.Fatal(err)
		}
		got, base := readScores(t, personal), readScores(t, plain)
		changed := 0
		for _, r := range data.UserRanges(ds) {
			user := ds.Vocab.Users.Name(r.User)
			d, ok, err := um.Delta(user, m)
			if err != nil {
				t.Fatal(err)
			}
			scorer := m
			if ok && d != nil {
				if err := rep.ApplyDelta(d); err != nil {
					t.Fatal(err)
				}
				scorer = rep.Model
			}
			z := make([]float32, r.End-r.Start)
			if err := scorer.Predict(ds.Samples[r.Start:r.End], z); err != nil {
				t.Fatal(err)
			}
			for j := range z {
				if got[r.Start+j].score != model.Sigmoid(z[j]) || got[r.Start+j].user != user {
					t.Fatalf("user %s row %d: score %v, want %v", user, j, got[r.Start+j], model.Sigmoid(z[j]))
				}
				if got[r.Start+j].score != base[r.Start+j].score {
					changed++
				}
			}
		}
		if changed == 0 {
			t.Errorf("%s: the deltas changed no score", scope)
		}
	}
	// Deltas of one model do not apply to another.
	other := filepath.Join(dir, "other")
	if code, _, stderr := lcft(t, "pretrain", "--data", samples, "--format", "Samples", "--arch", "DeepFM", "--embedding-dim", "4", "--hidden", "8", "--seed", "2", "--out", other); code != 0 {
		t.Fatalf("pretrain: %s", stderr)
	}
	code, _, stderr := lcft(t, "predict", "--model", filepath.Join(other, runner.ModelFile), "--data", samples, "--user-models", deltas, "--out", filepath.Join(dir, "x.csv"))
	if code != runspec.ExitBadInput || !strings.Contains(stderr, "were made from the model") {
		t.Errorf("deltas of another model: exit %d, %s", code, stderr)
	}
}

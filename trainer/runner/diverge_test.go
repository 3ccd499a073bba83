package runner

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// runningAway are Hard labels whose equivalent CTR r*1 + (1-r)*(-100) is
// below 0 for every r < 0.99: the soft-target cross-entropy has no minimum
// and, at learning rate 1, Wide&Deep's logits overflow float32 within a
// few epochs for most users.
var runningAway = runspec.LabelGroup{Positive: 1, Negative: -runspec.MaxLabelMagnitude}

// divergingSpec is a Hard fine-tune at learning rate 1 for 3 epochs.
func divergingSpec(ds runspec.Dataset, p *runspec.PretrainStats, mode, out string, groups ...runspec.LabelGroup) *runspec.Spec {
	s := finetuneSpec(ds, p, "Hard", mode, out, 1, 1, 5)
	s.Optimization.Epochs = 3
	s.Correction.Groups = groups
	return s
}

func mustRun(t *testing.T, spec *runspec.Spec) (*runspec.Summary, *Report) {
	t.Helper()
	sum, err := Run(context.Background(), spec, 0, testLog(t))
	if err != nil {
		t.Fatalf("%s: %v", spec.OutputURI, err)
	}
	if _, err := sum.Encode(); err != nil {
		t.Fatal(err)
	}
	return sum, readReport(t, sum.ReportURI)
}

// TestOneDivergingUserIsRolledBack: a Hard group that holds exactly one
// user gives that user running-away labels. Its LCFT fine-tune diverges;
// the run succeeds, the user's LCFT AUC is its Cloud AUC (bit for bit),
// it is counted and listed, and every other user's row is bit-identical
// to a run where nobody diverges.
func TestOneDivergingUserIsRolledBack(t *testing.T) {
	ds := synthDataset(120, 30, 0.8, 5)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://diverge/model", 5))

	// Who diverges under running-away labels, and which local CTRs are held
	// by a single user?
	all := runningAway
	all.Min, all.Max = 0, 1
	sumAll, repAll := mustRun(t, divergingSpec(ds, p, ModePerUser, "mem://diverge/all", all))
	if d := sumAll.Finetune.DivergedUsers; d.Local != 0 || d.LCFT == 0 || d.LCFT == sumAll.Finetune.Users {
		t.Fatalf("running-away labels for everyone: diverged %+v of %d users; the test needs some, not all", d, sumAll.Finetune.Users)
	}
	ctrs := map[float64]int{}
	for _, u := range repAll.Users {
		ctrs[u.LocalCTR]++
	}
	var victim *UserRow
	for i, u := range repAll.Users {
		if u.LCFTDiverged != "" && ctrs[u.LocalCTR] == 1 && u.Cloud.Defined() {
			victim = &repAll.Users[i]
			break
		}
	}
	if victim == nil {
		t.Fatal("no diverging user with a unique local CTR and a two-class test set")
	}
	// The group [r, next CTR) holds the victim only.
	next := 1.0
	for r := range ctrs {
		if r > victim.LocalCTR && r < next {
			next = r
		}
	}
	one := runningAway
	one.Min, one.Max = victim.LocalCTR, next

	sum, rep := mustRun(t, divergingSpec(ds, p, ModePerUser, "mem://diverge/one", one))
	_, base := mustRun(t, divergingSpec(ds, p, ModePerUser, "mem://diverge/none", runspec.LabelGroup{Min: 0.999, Max: 1, Positive: 1, Negative: 0}))
	f := sum.Finetune
	if f.DivergedUsers != (runspec.ArmCounts{LCFT: 1}) {
		t.Fatalf("divergedUsers %+v, want {Local: 0, LCFT: 1}", f.DivergedUsers)
	}
	if f.Users != base.Summary.Users || f.Users != int64(len(rep.Users)) {
		t.Errorf("users %d, without divergence %d: a diverged user must stay in the cohort", f.Users, base.Summary.Users)
	}
	if len(rep.Diverged) != 1 || rep.Diverged[0].User != victim.User || rep.Diverged[0].Arm != "LCFT" || !strings.Contains(rep.Diverged[0].Reason, "(1, -100)") {
		t.Errorf("report lists %+v, want user %s in arm LCFT with its labels", rep.Diverged, victim.User)
	}
	t.Logf("user %s (r %.4f) diverged: %s", victim.User, victim.LocalCTR, rep.Diverged[0].Reason)
	for i, u := range rep.Users {
		b := base.Users[i]
		if u.User != b.User {
			t.Fatalf("row %d is user %s, without divergence %s", i, u.User, b.User)
		}
		if u.User == victim.User {
			// Rolled back: LCFT is Cloud exactly; Local is untouched.
			if !sameFloat(u.LCFT, u.Cloud) || !sameFloat(u.Local, b.Local) || !sameFloat(u.Cloud, b.Cloud) || u.LCFTDiverged == "" || u.LocalDiverged != "" {
				t.Errorf("victim row %+v, without divergence %+v", u, b)
			}
			if u.Positive != 1 || u.Negative != -100 || !u.Corrected {
				t.Errorf("victim labels (%v, %v) corrected %v", u.Positive, u.Negative, u.Corrected)
			}
			continue
		}
		if !sameRow(u, b) || u.LCFTDiverged != "" || u.LocalDiverged != "" {
			t.Errorf("user %s: row %+v differs from the run without divergence %+v", u.User, u, b)
		}
	}
	// The rolled-back user is unchanged against Cloud, and counted so.
	if f.Improved+f.Unchanged+f.Degraded != f.Users-f.SingleClassUsers {
		t.Errorf("improved+unchanged+degraded = %d, want %d", f.Improved+f.Unchanged+f.Degraded, f.Users-f.SingleClassUsers)
	}
	// Shard summaries add the counts up.
	var tot runspec.FinetuneStats
	tot.Add(f)
	tot.Add(f)
	if tot.DivergedUsers != (runspec.ArmCounts{LCFT: 2}) {
		t.Errorf("Add: %+v", tot.DivergedUsers)
	}
	// Merged reports recount from the rows.
	rep.Summary.DivergedUsers, rep.Diverged = runspec.ArmCounts{}, nil
	if err := rep.Summarize(10); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.DivergedUsers != f.DivergedUsers || len(rep.Diverged) != 1 {
		t.Errorf("Summarize recounted %+v, %d listed", rep.Summary.DivergedUsers, len(rep.Diverged))
	}
}

func sameFloat(a, b Float) bool {
	return a == b || (!a.Defined() && !b.Defined())
}

// TestPooledDivergenceRollsBackTheCohort: a pooled model that diverges
// serves nobody; every user of the cohort keeps the Cloud model in that
// arm and is counted, and the run succeeds.
func TestPooledDivergenceRollsBackTheCohort(t *testing.T) {
	ds := synthDataset(120, 30, 0.8, 5)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://pooled-diverge/model", 5))
	all := runningAway
	all.Min, all.Max = 0, 1
	sum, rep := mustRun(t, divergingSpec(ds, p, ModePooled, "mem://pooled-diverge/ft", all))
	f := sum.Finetune
	if f.Users == 0 || f.DivergedUsers != (runspec.ArmCounts{LCFT: f.Users}) {
		t.Fatalf("divergedUsers %+v of %d users, want every user in arm LCFT", f.DivergedUsers, f.Users)
	}
	for _, u := range rep.Users {
		if !sameFloat(u.LCFT, u.Cloud) || !strings.HasPrefix(u.LCFTDiverged, "pooled model") || u.LocalDiverged != "" {
			t.Fatalf("user %+v: LCFT must be Cloud, marked diverged", u)
		}
	}
	if f.LCFT != f.Cloud || f.Unchanged != f.Users-f.SingleClassUsers {
		t.Errorf("LCFT %+v Cloud %+v, unchanged %d", f.LCFT, f.Cloud, f.Unchanged)
	}
	// The group model that devices keep is the global model: the same
	// bytes as the pretrained artifact.
	if sum.Model == nil || !sum.Model.RolledBack || sum.Model.Digest != p.Digest || rep.GroupModel == nil || rep.GroupModel.Diverged == "" {
		t.Errorf("rolled-back group model %+v (global %s), report %+v", sum.Model, p.Digest, rep.GroupModel)
	}
}

// TestSearchSkipsDivergingCells: a grid cell with running-away labels
// diverges for some users of every group; it is counted invalid, never
// chosen, reported, and the search succeeds.
func TestSearchSkipsDivergingCells(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(150, 30, 0.8, 6)
	_, a := holdoutModel(t, ds, "WideDeep", "mem://search-diverge/model", 6, 0.25)
	spec := searchSpecFor(ds, a, "mem://search-diverge/policy", 1, 1, 6)
	spec.Optimization.Epochs = 3
	spec.Search = &runspec.Search{Quantiles: 2, MinSamples: 5, NegativeLabels: []float64{0, 0.2, -100}}
	sum, err := Run(ctx, spec, 0, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	rep := readReportAs[SearchReport](t, sum.ReportURI, DecodeSearchReport)
	for k, gp := range rep.Groups {
		bad := slices.IndexFunc(gp.Cells, func(c SearchCell) bool { return c.Negative == -100 })
		if bad < 0 {
			t.Fatalf("group %d lacks the running-away cell: %+v", k, gp.Cells)
		}
		c := gp.Cells[bad]
		if c.DivergedUsers == 0 || c.AUC.Defined() || sum.Search.Groups[k].Cells[bad].Diverged != int64(c.DivergedUsers) {
			t.Errorf("group %d: running-away cell %+v should have diverged, be invalid and counted in the summary", k, c)
		}
		gr := rep.Result.Groups[k]
		if gr.Best == bad || (!gr.Auto && gr.Chosen.Negative == -100) {
			t.Errorf("group %d chose the diverged cell: %+v", k, gr)
		}
		t.Logf("group [%.3f, %.3f): cell (1, -100) diverged for %d of %d users; %s: %s", gp.Min, gp.Max, c.DivergedUsers, gp.Users, gr.Reason, gr.Message)
	}
}

func readReportAs[T any](t *testing.T, uri string, decode func([]byte) (*T, error)) *T {
	t.Helper()
	b, err := storage.ReadAll(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDivergenceBounds: settings past the documented bounds are bad input.
func TestDivergenceBounds(t *testing.T) {
	ds := synthDataset(40, 20, 0.5, 3)
	p := &runspec.PretrainStats{ArtifactURI: "mem://bounds/none.lcft", GlobalCTR: 0.4}
	for name, mk := range map[string]func() *runspec.Spec{
		"learning rate": func() *runspec.Spec {
			return finetuneSpec(ds, p, "Auto", "", "mem://bounds", runspec.MaxLearningRate*1.01, 1, 1)
		},
		"epochs": func() *runspec.Spec {
			s := finetuneSpec(ds, p, "Auto", "", "mem://bounds", 0.1, 1, 1)
			s.Optimization.Epochs = runspec.MaxEpochs + 1
			return s
		},
		"hard label": func() *runspec.Spec {
			return divergingSpec(ds, p, ModePerUser, "mem://bounds", runspec.LabelGroup{Min: 0, Max: 1, Positive: 100.5, Negative: 0})
		},
		"NaN hard label": func() *runspec.Spec {
			return divergingSpec(ds, p, ModePerUser, "mem://bounds", runspec.LabelGroup{Min: 0, Max: 1, Positive: 1, Negative: math.NaN()})
		},
		"search label": func() *runspec.Spec {
			return &runspec.Spec{Version: 1, Kind: runspec.KindSearch, Dataset: ds, GlobalModel: &runspec.ModelArtifact{URI: p.ArtifactURI, GlobalCTR: 0.4, HoldoutFraction: 0.2},
				Optimization: runspec.Optimization{LearningRate: 0.1, Epochs: 1, BatchSize: 32},
				Search:       &runspec.Search{NegativeLabels: []float64{-101}}, OutputURI: "mem://bounds", Shards: 1}
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Run(context.Background(), mk(), 0, nil)
			if ExitCode(err) != runspec.ExitBadInput {
				t.Fatalf("exit code %d for %v", ExitCode(err), err)
			}
			t.Log(err)
		})
	}
	// The bounds themselves are accepted by the spec check.
	s := finetuneSpec(ds, p, "Hard", "", "mem://bounds", runspec.MaxLearningRate, 1, 1)
	s.Optimization.Epochs = runspec.MaxEpochs
	s.Correction.Groups = []runspec.LabelGroup{{Min: 0, Max: 1, Positive: runspec.MaxLabelMagnitude, Negative: -runspec.MaxLabelMagnitude}}
	if err := s.Validate(); err != nil {
		t.Errorf("settings at the bounds refused: %v", err)
	}
	// The default grid leaves out labels beyond the bound.
	for _, c := range runspec.GridCells(0.5, 0.001, nil, nil) {
		if math.Abs(c.Positive) > runspec.MaxLabelMagnitude || math.Abs(c.Negative) > runspec.MaxLabelMagnitude {
			t.Errorf("default grid cell %+v beyond the bound", c)
		}
	}
	if n := len(runspec.GridCells(0.5, 0.001, nil, nil)); n != 1+len(runspec.DefaultGridFactors) {
		t.Errorf("default grid at r̄ 0.001 has %d cells, want the identity and the SoftNegative cells", n)
	}
}

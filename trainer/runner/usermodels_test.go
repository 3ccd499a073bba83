package runner

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// TestUserDeltasReproduceFineTunedUsers: a PerUser run with userModels
// Deltas saves each user's LCFT model; the global model plus a user's
// delta gives that user's fine-tuned logits bit for bit (checked against a
// fine-tune redone here) and the report's LCFT AUC exactly; the file's
// bytes do not depend on the worker count; scope Sparse saves deltas
// without dense parameters, many times smaller, and scope Patch the patch
// alone, smaller still.
func TestUserDeltasReproduceFineTunedUsers(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(90, 30, 0.8, 10)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://deltas/model", 10))
	sizes := map[string]float64{}
	for _, scope := range []string{runspec.ScopeAll, runspec.ScopeSparse, runspec.ScopePatch} {
		t.Run(scope, func(t *testing.T) {
			spec := finetuneSpec(ds, p, "Auto", ModePerUser, "mem://deltas/"+scope, 0.1, 2, 10)
			spec.Optimization.Scope = scope
			spec.Cohort.UserModels = runspec.UserModelsDeltas
			var sums [2]*runspec.Summary
			for shard := range 2 {
				sum, err := run(ctx, spec, shard, testLog(t), options{workers: 3, resamples: 10})
				if err != nil {
					t.Fatal(err)
				}
				sums[shard] = sum
			}
			base, digest, err := LoadModel(ctx, spec.GlobalModel)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := modelData(ctx, base, ds, nil, newLogger(nil, ""))
			if err != nil {
				t.Fatal(err)
			}
			trainOf, testOf := byUser(sp.train), byUser(sp.test)
			tu, err := newTuner(base, spec.Optimization)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := base.Fork()
			if err != nil {
				t.Fatal(err)
			}
			var users, bytesTotal int64
			for shard, sum := range sums {
				f := sum.Finetune
				if sum.UserModelsURI != storage.Join(spec.OutputURI, UserModelsFile(shard)) || f.UserModels != f.Users || f.UserModelBytes == 0 {
					t.Fatalf("shard %d: user models %s, %d of %d users, %d bytes", shard, sum.UserModelsURI, f.UserModels, f.Users, f.UserModelBytes)
				}
				users, bytesTotal = users+f.UserModels, bytesTotal+f.UserModelBytes
				um, err := ReadUserModels(ctx, sum.UserModelsURI)
				if err != nil {
					t.Fatal(err)
				}
				if um.Header.ModelDigest != digest || um.Header.Scope != scope || len(um.Index.Users) != int(f.Users) {
					t.Fatalf("header %+v, %d users", um.Header, len(um.Index.Users))
				}
				r := readReport(t, sum.ReportURI)
				for i, row := range r.Users {
					d, ok, err := um.Delta(row.User, base)
					if err != nil || !ok || d == nil {
						t.Fatalf("user %s: delta %v %v %v", row.User, d != nil, ok, err)
					}
					if scope == runspec.ScopePatch {
						for k, td := range d.Tables {
							if len(td.Rows) != 0 {
								t.Fatalf("user %s: a Patch delta carries rows of table %d", row.User, k)
							}
						}
						if d.Patch == nil {
							t.Fatalf("user %s: a Patch delta without a patch", row.User)
						}
					}
					if scope != runspec.ScopeAll {
						for k, v := range d.Dense {
							if v != nil {
								t.Fatalf("user %s: a Sparse delta carries dense parameter %d", row.User, k)
							}
						}
					}
					if err := rep.ApplyDelta(d); err != nil {
						t.Fatal(err)
					}
					te := testOf[row.User]
					// The report's LCFT AUC, from the applied delta.
					a, err := tu.auc(rep.Model, te)
					if err != nil {
						t.Fatal(err)
					}
					if math.Float64bits(a) != math.Float64bits(float64(row.LCFT)) && !(math.IsNaN(a) && !row.LCFT.Defined()) {
						t.Fatalf("user %s: AUC with the delta %v, report's LCFT %v", row.User, a, row.LCFT)
					}
					// The logits, against the fine-tune redone (a few users).
					if i < 5 {
						lab := correction.Labels{Positive: row.Positive, Negative: row.Negative}
						if err := tu.fineTune(trainOf[row.User], lab, UserKey(row.User)); err != nil {
							t.Fatal(err)
						}
						want, got := make([]float32, len(te)), make([]float32, len(te))
						if err := tu.rep.Predict(te, want); err != nil {
							t.Fatal(err)
						}
						if err := rep.Predict(te, got); err != nil {
							t.Fatal(err)
						}
						for j := range got {
							if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
								t.Fatalf("user %s sample %d: logit %v with the delta, %v fine-tuned", row.User, j, got[j], want[j])
							}
						}
					}
				}
			}
			sizes[scope] = float64(bytesTotal) / float64(users)
			t.Logf("scope %s: %d users, %.0f bytes per user", scope, users, sizes[scope])

			// One worker writes the same bytes.
			one := *spec
			one.OutputURI += "-one-worker"
			sum, err := run(ctx, &one, 0, nil, options{workers: 1, resamples: 10})
			if err != nil {
				t.Fatal(err)
			}
			a, _ := storage.ReadAll(ctx, sums[0].UserModelsURI)
			b, _ := storage.ReadAll(ctx, sum.UserModelsURI)
			if !bytes.Equal(a, b) {
				t.Error("the user-models file depends on the worker count")
			}
		})
	}
	if !(sizes[runspec.ScopePatch] < sizes[runspec.ScopeSparse]) {
		t.Errorf("Patch deltas (%.0f bytes per user) are not smaller than Sparse's (%.0f)", sizes[runspec.ScopePatch], sizes[runspec.ScopeSparse])
	}
	if !(sizes[runspec.ScopeSparse]*3 < sizes[runspec.ScopeAll]) {
		t.Errorf("Sparse deltas (%.0f bytes per user) are not much smaller than All's (%.0f)", sizes[runspec.ScopeSparse], sizes[runspec.ScopeAll])
	}
}

func byUser(ds *data.Dataset) map[string][]data.Sample {
	m := map[string][]data.Sample{}
	for _, r := range data.UserRanges(ds) {
		m[ds.Vocab.Users.Name(r.User)] = ds.Samples[r.Start:r.End]
	}
	return m
}

// TestUserModelsOfDivergedUsers: a user whose LCFT fine-tune diverged is
// saved rolled back (the global model).
func TestUserModelsOfDivergedUsers(t *testing.T) {
	ds := synthDataset(120, 30, 0.8, 5)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://um-diverge/model", 5))
	all := runningAway
	all.Min, all.Max = 0, 1
	spec := divergingSpec(ds, p, ModePerUser, "mem://um-diverge/ft", all)
	spec.Cohort.UserModels = runspec.UserModelsDeltas
	sum, rep := mustRun(t, spec)
	um, err := ReadUserModels(context.Background(), sum.UserModelsURI)
	if err != nil {
		t.Fatal(err)
	}
	rolled := 0
	for i, e := range um.Index.Users {
		row := rep.Users[i]
		if e.User != row.User || e.RolledBack != (row.LCFTDiverged != "") || e.RolledBack && e.Length != 0 {
			t.Fatalf("index entry %+v, report row %s diverged %q", e, row.User, row.LCFTDiverged)
		}
		if e.RolledBack {
			rolled++
		}
	}
	if rolled == 0 || int64(rolled) != sum.Finetune.DivergedUsers.LCFT || rep.UserModels.RolledBack != rolled {
		t.Errorf("%d rolled back in the index, %d diverged, report %+v", rolled, sum.Finetune.DivergedUsers.LCFT, rep.UserModels)
	}
}

// TestReadUserModelsRejects malformed files with bad input.
func TestReadUserModelsRejects(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(40, 20, 0.5, 3)
	p := mustPretrain(t, pretrainSpec(ds, "LR", "mem://um-bad/model", 3))
	spec := finetuneSpec(ds, p, "Auto", ModePerUser, "mem://um-bad/ft", 0.1, 1, 3)
	spec.Cohort.UserModels = runspec.UserModelsDeltas
	sum, _ := mustRun(t, spec)
	good, err := storage.ReadAll(ctx, sum.UserModelsURI)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":      nil,
		"truncated":  good[:len(good)-3],
		"no trailer": append(append([]byte(nil), good[:len(good)-8]...), "XXXXXXXX"...),
		"index size": func() []byte { b := append([]byte(nil), good...); b[len(b)-16] ^= 0x40; return b }(),
	} {
		uri := "mem://um-bad/" + strings.ReplaceAll(name, " ", "-")
		if err := storage.WriteAll(ctx, uri, b); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadUserModels(ctx, uri); ExitCode(err) != runspec.ExitBadInput {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Deltas need PerUser.
	spec.Cohort.Mode = ModePooled
	if _, err := Run(ctx, spec, 0, nil); ExitCode(err) != runspec.ExitBadInput {
		t.Errorf("Pooled with Deltas: %v", err)
	}
}

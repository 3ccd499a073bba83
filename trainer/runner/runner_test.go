package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// synthDataset is a small synthetic dataset with strong CTR drift.
func synthDataset(users, samples int, drift float64, seed uint64) runspec.Dataset {
	return runspec.Dataset{
		Format:        FormatSynthetic,
		HistoryLength: 10,
		Synthetic:     &runspec.Synthetic{Users: users, Items: users/3 + 50, Categories: 10, SamplesPerUser: samples, GlobalCTR: 0.4, Drift: drift, Seed: seed},
		Split:         runspec.Split{Method: SplitPerUserFraction, TrainFraction: 0.8},
	}
}

func pretrainSpec(ds runspec.Dataset, arch, out string, seed uint64) *runspec.Spec {
	return &runspec.Spec{
		Version: runspec.Version, Kind: runspec.KindPretrain, Name: "test/model", Dataset: ds,
		Model:        &runspec.Model{Architecture: arch, EmbeddingDim: 8, HiddenUnits: []int{16, 8}},
		Optimization: runspec.Optimization{Optimizer: OptimizerSGD, LearningRate: 1, LearningRateDecay: 0.1, Epochs: 2, BatchSize: 32, Seed: seed},
		OutputURI:    out, Shards: 1,
	}
}

func finetuneSpec(ds runspec.Dataset, p *runspec.PretrainStats, strategy, mode, out string, lr float64, shards int, seed uint64) *runspec.Spec {
	return &runspec.Spec{
		Version: runspec.Version, Kind: runspec.KindFinetune, Name: "test/cohort", Dataset: ds,
		GlobalModel:  &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR},
		Optimization: runspec.Optimization{Optimizer: OptimizerSGD, LearningRate: lr, LearningRateDecay: 1, Epochs: 1, BatchSize: 32, Seed: seed},
		Correction:   &runspec.Correction{Strategy: strategy},
		Cohort:       &runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: 5, Mode: mode},
		OutputURI:    out, Shards: shards,
	}
}

func mustPretrain(t *testing.T, spec *runspec.Spec) *runspec.PretrainStats {
	t.Helper()
	sum, err := Run(context.Background(), spec, 0, testLog(t))
	if err != nil {
		t.Fatalf("pretrain: %v", err)
	}
	if sum.Pretrain == nil {
		t.Fatal("pretrain summary has no PretrainStats")
	}
	return sum.Pretrain
}

// testLog sends progress lines to t.Log when -v is given.
func testLog(t *testing.T) *tWriter { return &tWriter{t} }

type tWriter struct{ t *testing.T }

func (w *tWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func readReport(t *testing.T, uri string) *Report {
	t.Helper()
	b, err := storage.ReadAll(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeReport(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPretrainFinetuneRoundTrip(t *testing.T) {
	for _, out := range []string{"mem://roundtrip/run", "file://" + filepath.ToSlash(t.TempDir()) + "/run"} {
		t.Run(strings.SplitN(out, ":", 2)[0], func(t *testing.T) {
			ctx := context.Background()
			ds := synthDataset(200, 30, 0.8, 7)
			p := mustPretrain(t, pretrainSpec(ds, "WideDeep", out+"/model", 7))
			if p.ArtifactURI != out+"/model/"+ModelFile || !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != 71 {
				t.Errorf("artifact %q digest %q", p.ArtifactURI, p.Digest)
			}
			if !(p.GlobalCTR > 0 && p.GlobalCTR < 1) || p.Users != 200 || p.Samples == 0 || !(p.CloudAUC > 0.5 && p.CloudAUC < 1) || p.Seconds <= 0 {
				t.Errorf("pretrain stats %+v", p)
			}
			if len(p.Quantiles) != 5 || p.Quantiles[2][0] != 0.5 {
				t.Errorf("quantiles %v", p.Quantiles)
			}
			for i := 1; i < len(p.Quantiles); i++ {
				if p.Quantiles[i][1] < p.Quantiles[i-1][1] {
					t.Errorf("quantiles not increasing: %v", p.Quantiles)
				}
			}

			spec := finetuneSpec(ds, p, "Auto", ModePerUser, out+"/cohort", 0.1, 1, 7)
			sum, err := Run(ctx, spec, 0, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Kind != runspec.KindFinetune || sum.Shard != 0 || sum.Arch == "" || sum.ReportURI != out+"/cohort/report-shard-0.json" {
				t.Errorf("summary header %+v", sum)
			}
			f := sum.Finetune
			if f.Users == 0 || f.Samples == 0 || f.CorrectedUsers == 0 || f.Seconds <= 0 || f.Cloud.Weight == 0 || f.LocalCTRSum <= 0 {
				t.Errorf("finetune stats %+v", f)
			}
			if f.Improved+f.Unchanged+f.Degraded != f.Users-f.SingleClassUsers {
				t.Errorf("improved+unchanged+degraded = %d, want users-singleClass = %d", f.Improved+f.Unchanged+f.Degraded, f.Users-f.SingleClassUsers)
			}
			b, err := sum.Encode()
			if err != nil || len(b) > runspec.MaxSummaryBytes {
				t.Fatalf("summary does not encode within 4 KiB: %d bytes, %v", len(b), err)
			}
			back, err := runspec.DecodeSummary(string(b))
			if err != nil || !reflect.DeepEqual(back, sum) {
				t.Errorf("summary does not survive encoding: %v", err)
			}

			// The report's rows add up to the summary.
			rep := readReport(t, sum.ReportURI)
			if len(rep.Users) != int(f.Users) || rep.Strategy != "Auto" || rep.ModelDigest != p.Digest || !reflect.DeepEqual(rep.Summary, *f) {
				t.Fatalf("report disagrees with summary: %d rows, strategy %s", len(rep.Users), rep.Strategy)
			}
			var samples int
			var posSum float64
			for _, u := range rep.Users {
				samples += u.Train
				posSum += float64(u.Train) * u.Positive
				want, applied, _ := correction.AutoLabels(p.GlobalCTR, u.LocalCTR)
				if u.Positive != want.Positive || u.Negative != want.Negative || u.Corrected != applied {
					t.Errorf("user %s: labels (%v, %v, %v), want Auto's %v %v", u.User, u.Positive, u.Negative, u.Corrected, want, applied)
				}
			}
			if int64(samples) != f.Samples || math.Abs(posSum-f.PositiveLabelSum) > 1e-9*posSum {
				t.Errorf("samples %d / %d, positive label sum %v / %v", samples, f.Samples, posSum, f.PositiveLabelSum)
			}
			if len(rep.LiftByCTR) != 10 || rep.LCFTvsLocal.Resamples != DefaultBootstrapResamples || !rep.LCFTvsLocal.Mean.Defined() ||
				!(rep.LCFTvsLocal.Lo <= rep.LCFTvsLocal.Mean && rep.LCFTvsLocal.Mean <= rep.LCFTvsLocal.Hi) {
				t.Errorf("report aggregates: lift %d buckets, CI %+v", len(rep.LiftByCTR), rep.LCFTvsLocal)
			}
			if lcft, _ := f.LCFT.Value(); math.Abs(lcft-float64(rep.LCFT.AUC)) > 1e-15 {
				t.Errorf("report LCFT AUC %v, summary %v", rep.LCFT.AUC, lcft)
			}
		})
	}
}

// stripSeconds zeroes timing so that summaries can be compared exactly.
func stripSeconds(f runspec.FinetuneStats) runspec.FinetuneStats {
	f.Seconds = 0
	return f
}

func TestShardsAddUpToOneShard(t *testing.T) {
	for _, mode := range []string{ModePerUser, ModePooled} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			ds := synthDataset(240, 30, 0.8, 3)
			out := "mem://shards-" + mode
			p := mustPretrain(t, pretrainSpec(ds, "LR", out+"/model", 3))
			one, err := Run(ctx, finetuneSpec(ds, p, "Auto", mode, out+"/one", 0.1, 1, 3), 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			var total runspec.FinetuneStats
			rows := map[string]UserRow{}
			for shard := range n {
				sum, err := Run(ctx, finetuneSpec(ds, p, "Auto", mode, out+"/three", 0.1, n, 3), shard, nil)
				if err != nil {
					t.Fatal(err)
				}
				if sum.Finetune.Users == 0 {
					t.Errorf("shard %d has no users", shard)
				}
				total.Add(sum.Finetune)
				for _, u := range readReport(t, sum.ReportURI).Users {
					if ShardOf(u.User, n) != shard {
						t.Errorf("user %s in shard %d, hash says %d", u.User, shard, ShardOf(u.User, n))
					}
					rows[u.User] = u
				}
			}
			a, b := stripSeconds(*one.Finetune), stripSeconds(total)
			// Counts are exact; float sums agree up to the order of additions.
			for _, pair := range [][2]*float64{
				{&a.Cloud.Sum, &b.Cloud.Sum}, {&a.Local.Sum, &b.Local.Sum}, {&a.LCFT.Sum, &b.LCFT.Sum},
				{&a.LocalCTRSum, &b.LocalCTRSum}, {&a.PositiveLabelSum, &b.PositiveLabelSum}, {&a.NegativeLabelSum, &b.NegativeLabelSum},
			} {
				if math.Abs(*pair[0]-*pair[1]) > 1e-9*math.Abs(*pair[0]) {
					t.Errorf("sum differs: one shard %v, %d shards %v", *pair[0], n, *pair[1])
				}
				*pair[1] = *pair[0]
			}
			if a != b {
				t.Errorf("counts differ:\none shard %+v\n%d shards %+v", a, n, b)
			}
			// Each user's numbers are bit-identical whatever the shard count.
			oneRep := readReport(t, one.ReportURI)
			if mode == ModePooled {
				// Pooled labels: Auto at the cohort's pooled local CTR.
				var pos, n float64
				for _, u := range oneRep.Users {
					pos += u.LocalCTR * float64(u.Train)
					n += float64(u.Train)
				}
				if oneRep.PooledCTR == nil || math.Abs(*oneRep.PooledCTR-pos/n) > 1e-12 {
					t.Fatalf("pooled CTR %v, want %v", oneRep.PooledCTR, pos/n)
				}
				want, _, _ := correction.AutoLabels(p.GlobalCTR, *oneRep.PooledCTR)
				for _, u := range oneRep.Users {
					if u.Positive != want.Positive || u.Negative != want.Negative {
						t.Fatalf("user %s has labels (%v, %v), want the pooled %v", u.User, u.Positive, u.Negative, want)
					}
				}
			}
			if len(rows) != len(oneRep.Users) {
				t.Fatalf("%d users over shards, %d in one shard", len(rows), len(oneRep.Users))
			}
			for _, u := range oneRep.Users {
				if v := rows[u.User]; !sameRow(v, u) {
					t.Errorf("user %s: %+v over shards, %+v in one shard", u.User, v, u)
				}
			}
		})
	}
}

// sameRow compares rows bit for bit (NaN equal to NaN).
func sameRow(a, b UserRow) bool {
	eq := func(x, y Float) bool { return math.Float64bits(float64(x)) == math.Float64bits(float64(y)) }
	return a.User == b.User && a.LocalCTR == b.LocalCTR && a.Train == b.Train && a.Test == b.Test &&
		a.Positive == b.Positive && a.Negative == b.Negative && a.Corrected == b.Corrected &&
		eq(a.Cloud, b.Cloud) && eq(a.Local, b.Local) && eq(a.LCFT, b.LCFT)
}

func TestResultsIndependentOfWorkers(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(200, 30, 0.8, 5)
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://workers/model", 5))
	var sums []runspec.FinetuneStats
	var reps []*Report
	for _, workers := range []int{1, 2, 5} {
		spec := finetuneSpec(ds, p, "Auto", ModePerUser, fmt.Sprintf("mem://workers/w%d", workers), 0.1, 1, 5)
		sum, err := run(ctx, spec, 0, nil, options{workers: workers, resamples: 200})
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, stripSeconds(*sum.Finetune))
		reps = append(reps, readReport(t, sum.ReportURI))
	}
	for i := 1; i < len(sums); i++ {
		if sums[i] != sums[0] {
			t.Errorf("summary with workers #%d differs:\n%+v\n%+v", i, sums[i], sums[0])
		}
		for k := range reps[0].Users {
			if !sameRow(reps[i].Users[k], reps[0].Users[k]) {
				t.Errorf("user row %d differs between worker counts", k)
			}
		}
		if reps[i].LCFTvsLocal != reps[0].LCFTvsLocal {
			t.Errorf("bootstrap interval differs: %+v vs %+v", reps[i].LCFTvsLocal, reps[0].LCFTvsLocal)
		}
	}
}

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ds := synthDataset(60, 20, 0.5, 1)
	p := mustPretrain(t, pretrainSpec(ds, "LR", "file://"+filepath.ToSlash(dir)+"/model", 1))

	badCSV := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(badCSV, []byte("user,item,categories,label,timestamp\nu1,i1,c1,maybe,10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notModel := filepath.Join(dir, "not-a-model.lcft")
	if err := os.WriteFile(notModel, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrongDigest := "sha256:" + strings.Repeat("0", 64)

	cases := map[string]func() *runspec.Spec{
		"missing samples file": func() *runspec.Spec {
			s := pretrainSpec(ds, "LR", "mem://exit", 1)
			s.Dataset = runspec.Dataset{Format: FormatSamples, URI: filepath.Join(dir, "nope.csv")}
			return s
		},
		"missing MovieLens dir": func() *runspec.Spec {
			s := pretrainSpec(ds, "LR", "mem://exit", 1)
			s.Dataset = runspec.Dataset{Format: FormatMovieLens, URI: "file://" + filepath.ToSlash(dir) + "/no-movielens"}
			return s
		},
		"malformed CSV": func() *runspec.Spec {
			s := pretrainSpec(ds, "LR", "mem://exit", 1)
			s.Dataset = runspec.Dataset{Format: FormatSamples, URI: badCSV}
			return s
		},
		"unknown format": func() *runspec.Spec {
			s := pretrainSpec(ds, "LR", "mem://exit", 1)
			s.Dataset.Format = "Parquet"
			return s
		},
		"unknown architecture": func() *runspec.Spec { return pretrainSpec(ds, "Transformer", "mem://exit", 1) },
		"unknown optimizer": func() *runspec.Spec {
			s := pretrainSpec(ds, "LR", "mem://exit", 1)
			s.Optimization.Optimizer = "Lion"
			return s
		},
		"invalid spec":    func() *runspec.Spec { s := pretrainSpec(ds, "LR", "mem://exit", 1); s.Version = 0; return s },
		"unsupported URI": func() *runspec.Spec { return pretrainSpec(ds, "LR", "ftp://host/out", 1) },
		"wrong digest": func() *runspec.Spec {
			s := finetuneSpec(ds, p, "Auto", "", "mem://exit", 0.1, 1, 1)
			s.GlobalModel.Digest = wrongDigest
			return s
		},
		"malformed digest": func() *runspec.Spec {
			s := finetuneSpec(ds, p, "Auto", "", "mem://exit", 0.1, 1, 1)
			s.GlobalModel.Digest = "md5:abc"
			return s
		},
		"missing model": func() *runspec.Spec {
			s := finetuneSpec(ds, p, "Auto", "", "mem://exit", 0.1, 1, 1)
			s.GlobalModel.URI = "mem://exit/none.lcft"
			return s
		},
		"not a model": func() *runspec.Spec {
			s := finetuneSpec(ds, p, "Auto", "", "mem://exit", 0.1, 1, 1)
			s.GlobalModel.URI, s.GlobalModel.Digest = notModel, ""
			return s
		},
		"other dataset than the model's": func() *runspec.Spec {
			return finetuneSpec(synthDataset(80, 20, 0.5, 1), p, "Auto", "", "mem://exit", 0.1, 1, 1)
		},
		"unknown strategy": func() *runspec.Spec { return finetuneSpec(ds, p, "Magic", "", "mem://exit", 0.1, 1, 1) },
		"hard without table": func() *runspec.Spec {
			return finetuneSpec(ds, p, "Hard", "", "mem://exit", 0.1, 1, 1)
		},
		"global CTR missing": func() *runspec.Spec {
			s := finetuneSpec(ds, p, "Auto", "", "mem://exit", 0.1, 1, 1)
			s.GlobalModel.GlobalCTR = 0
			return s
		},
		"unknown mode": func() *runspec.Spec { return finetuneSpec(ds, p, "Auto", "Batch", "mem://exit", 0.1, 1, 1) },
		"verify wrong digest": func() *runspec.Spec {
			return &runspec.Spec{Version: 1, Kind: runspec.KindVerify, GlobalModel: &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: wrongDigest, GlobalCTR: 0.4},
				Optimization: runspec.Optimization{Epochs: 1, BatchSize: 1, LearningRate: 1}, OutputURI: "mem://exit", Shards: 1}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Run(ctx, mk(), 0, nil)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if got := ExitCode(err); got != runspec.ExitBadInput {
				t.Errorf("ExitCode = %d, want %d (bad input) for %v", got, runspec.ExitBadInput, err)
			}
			t.Log(err)
		})
	}
	t.Run("shard out of range", func(t *testing.T) {
		_, err := Run(ctx, finetuneSpec(ds, p, "Auto", "", "mem://exit", 0.1, 2, 1), 2, nil)
		if ExitCode(err) != runspec.ExitBadInput {
			t.Errorf("ExitCode(%v) = %d", err, ExitCode(err))
		}
	})
	t.Run("canceled is retryable", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Run(cctx, pretrainSpec(ds, "LR", "mem://exit", 1), 0, nil)
		if err == nil || ExitCode(err) != runspec.ExitFailure || !errors.Is(err, context.Canceled) {
			t.Errorf("canceled run: err %v, exit code %d; want %d", err, ExitCode(err), runspec.ExitFailure)
		}
	})
	if ExitCode(nil) != runspec.ExitOK || ExitCode(errors.New("disk on fire")) != runspec.ExitFailure {
		t.Error("ExitCode of nil or a plain error is wrong")
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(60, 20, 0.5, 2)
	p := mustPretrain(t, pretrainSpec(ds, "LR", "mem://verify/model", 2))
	spec := &runspec.Spec{Version: 1, Kind: runspec.KindVerify, GlobalModel: &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: strings.ToUpper(p.Digest[7:]), GlobalCTR: p.GlobalCTR},
		Optimization: runspec.Optimization{Epochs: 1, BatchSize: 1, LearningRate: 1}, OutputURI: "mem://verify/out", Shards: 1}
	spec.GlobalModel.Digest = "sha256:" + spec.GlobalModel.Digest // upper-case hex is accepted
	sum, err := Run(ctx, spec, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := sum.Pretrain
	if v.Digest != p.Digest || v.ArtifactURI != p.ArtifactURI || v.GlobalCTR != p.GlobalCTR || v.Users != 60 {
		t.Errorf("verify stats %+v, pretrain %+v", v, p)
	}
	// With the dataset, verify reproduces pretrain's data statistics.
	spec.Dataset = ds
	sum, err = Run(ctx, spec, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := sum.Pretrain; v.CloudAUC != p.CloudAUC || v.Samples != p.Samples || !reflect.DeepEqual(v.Quantiles, p.Quantiles) {
		t.Errorf("verify with data %+v, pretrain %+v", v, p)
	}
}

// TestZeroAndOneCTRUsers runs a hand-made cohort with users whose training
// samples are all negatives (r = 0) or all positives (r = 1).
func TestZeroAndOneCTRUsers(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("user,item,categories,label,timestamp\n")
	ts := 0
	row := func(u string, item, label int) {
		ts++
		fmt.Fprintf(&b, "%s,i%d,c%d,%d,%d\n", u, item, item%3, label, ts)
	}
	// 10 train then 2 or more test samples per user (split 10/12 ≈ 0.83).
	for k := range 10 {
		row("zero", k, 0)
	}
	row("zero", 1, 1)
	row("zero", 2, 0)
	for k := range 10 {
		row("one", k, 1)
	}
	row("one", 3, 1)
	row("one", 4, 0)
	for u := range 8 { // ordinary users so the global model has both classes
		for k := range 12 {
			row(fmt.Sprintf("m%d", u), (u+k)%10, (u+k)%2)
		}
	}
	uri := "mem://edge/samples.csv"
	if err := storage.WriteAll(ctx, uri, []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	ds := runspec.Dataset{Format: FormatSamples, URI: uri, Split: runspec.Split{Method: SplitPerUserFraction, TrainFraction: 10.0 / 12}}
	p := mustPretrain(t, pretrainSpec(ds, "WideDeep", "mem://edge/model", 1))
	g := p.GlobalCTR
	for _, c := range []struct {
		strategy          string
		zero, one         correction.Labels
		zeroCorr, oneCorr bool
	}{
		{"Auto", correction.Labels{Positive: 1, Negative: g}, correction.Labels{Positive: g, Negative: 0}, true, true},
		{"SoftPositive", correction.Identity, correction.Labels{Positive: g, Negative: 0}, false, true},
		{"SoftNegative", correction.Labels{Positive: 1, Negative: g}, correction.Identity, true, false},
	} {
		for _, mode := range []string{ModePerUser, ModePooled} {
			spec := finetuneSpec(ds, p, c.strategy, mode, "mem://edge/"+c.strategy+mode, 0.1, 1, 1)
			spec.Cohort.MinSamples = 1
			sum, err := Run(ctx, spec, 0, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", c.strategy, mode, err)
			}
			rep := readReport(t, sum.ReportURI)
			found := 0
			for _, u := range rep.Users {
				if (u.User == "zero" || u.User == "one") && (!u.Cloud.Defined() || !u.Local.Defined() || !u.LCFT.Defined()) {
					t.Errorf("%s %s: user %s has an undefined AUC: %+v", c.strategy, mode, u.User, u)
				}
				want, corr := correction.Labels{}, false
				switch u.User {
				case "zero":
					want, corr = c.zero, c.zeroCorr
					if u.LocalCTR != 0 {
						t.Errorf("user zero has local CTR %v", u.LocalCTR)
					}
				case "one":
					want, corr = c.one, c.oneCorr
					if u.LocalCTR != 1 {
						t.Errorf("user one has local CTR %v", u.LocalCTR)
					}
				default:
					continue
				}
				found++
				if mode == ModePerUser && (u.Positive != want.Positive || u.Negative != want.Negative || u.Corrected != corr) {
					t.Errorf("%s: user %s labels (%v, %v) corrected %v; want %v corrected %v", c.strategy, u.User, u.Positive, u.Negative, u.Corrected, want, corr)
				}
			}
			if found != 2 {
				t.Errorf("%s %s: %d of the r=0 / r=1 users in the report", c.strategy, mode, found)
			}
			if _, err := sum.Encode(); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestCohortSelection checks the CTR range (MaxCTR 1 includes 1) and the
// MinSamples skip count.
func TestCohortSelection(t *testing.T) {
	ctx := context.Background()
	ds := synthDataset(200, 20, 0.9, 4)
	p := mustPretrain(t, pretrainSpec(ds, "LR", "mem://select/model", 4))
	count := func(lo, hi float64, minSamples int) (users, skipped int64, rep *Report) {
		spec := finetuneSpec(ds, p, "Auto", "", fmt.Sprintf("mem://select/%v-%v-%d", lo, hi, minSamples), 0.05, 1, 4)
		spec.Cohort.MinCTR, spec.Cohort.MaxCTR, spec.Cohort.MinSamples = lo, hi, minSamples
		sum, err := Run(ctx, spec, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sum.Finetune.Users, sum.Finetune.SkippedUsers, readReport(t, sum.ReportURI)
	}
	all, skippedAll, _ := count(0, 1, 1)
	lo, skLo, repLo := count(0, 0.4, 1)
	hi, skHi, repHi := count(0.4, 1, 1)
	if lo+hi != all || skLo+skHi != skippedAll || lo == 0 || hi == 0 {
		t.Errorf("[0,0.4) %d + [0.4,1] %d users != %d", lo, hi, all)
	}
	for _, u := range repLo.Users {
		if u.LocalCTR >= 0.4 {
			t.Errorf("user %s with CTR %v in [0, 0.4)", u.User, u.LocalCTR)
		}
	}
	ones := 0
	for _, u := range repHi.Users {
		if u.LocalCTR < 0.4 {
			t.Errorf("user %s with CTR %v in [0.4, 1]", u.User, u.LocalCTR)
		}
		if u.LocalCTR == 1 {
			ones++
		}
	}
	if ones == 0 {
		t.Error("no r = 1 user in [0.4, 1]: MaxCTR 1 must include 1 (and drift 0.9 makes such users)")
	}
	many, skMany, _ := count(0, 1, 18)
	if many+skMany != all+skippedAll || skMany <= skippedAll {
		t.Errorf("minSamples 18: %d users + %d skipped; minSamples 1: %d + %d", many, skMany, all, skippedAll)
	}
}

// TestLCFTBeatsLocal is the science test: on synthetic data with strong CTR
// drift, Wide&Deep fine-tuned per user at lr 0.1, LCFT (Auto) beats Local
// on user-level AUC over seeds, by more than twice the standard error of
// the mean difference measured across seeds.
func TestLCFTBeatsLocal(t *testing.T) {
	ctx := context.Background()
	const seeds = 5
	var diffs []float64
	for seed := uint64(1); seed <= seeds; seed++ {
		ds := synthDataset(1500, 60, 0.8, seed)
		out := fmt.Sprintf("mem://science/%d", seed)
		p := mustPretrain(t, pretrainSpec(ds, "WideDeep", out, seed))
		reps, err := CompareStrategies(ctx, finetuneSpec(ds, p, "Auto", ModePerUser, out, 0.1, 1, seed), []string{"Auto"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := reps[0]
		d := float64(r.LCFT.AUC - r.Local.AUC)
		diffs = append(diffs, d)
		t.Logf("seed %d: g %.3f, %d users scored: Cloud %.5f Local %.5f LCFT %.5f; LCFT-Local %+.5f (95%% CI %+.5f..%+.5f)",
			seed, p.GlobalCTR, r.LCFT.Users, r.Cloud.AUC, r.Local.AUC, r.LCFT.AUC, d, r.LCFTvsLocal.Lo, r.LCFTvsLocal.Hi)
	}
	var mean, ss float64
	for _, d := range diffs {
		mean += d / seeds
	}
	for _, d := range diffs {
		ss += (d - mean) * (d - mean)
	}
	sd := math.Sqrt(ss / (seeds - 1))
	margin := mean - 2*sd/math.Sqrt(seeds)
	t.Logf("LCFT-Local over %d seeds: mean %+.5f, sd %.5f, mean-2*sd/sqrt(n) %+.5f", seeds, mean, sd, margin)
	if !(margin > 0) {
		t.Errorf("LCFT does not beat Local beyond seed noise: mean %+.5f, sd %.5f", mean, sd)
	}
}

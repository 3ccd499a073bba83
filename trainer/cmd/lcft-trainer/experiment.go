package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/report"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// ExperimentResult is what experiment --out writes; package report reads it.
type ExperimentResult = report.Experiment

// ModelResult is one architecture of an experiment.
type ModelResult = report.ModelResult

// cmdExperiment pretrains each architecture, fine-tunes every user with
// each strategy, and prints the comparison table.
func cmdExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	fs := newFlags("experiment", stderr)
	var d dataFlags
	var m modelFlags
	var pre, ft optFlags
	seed := fs.Uint64("seed", 1, "seed of model initialisation and every shuffle")
	d.register(fs, runner.FormatMovieLens)
	m.register(fs, "LR,WideDeep")
	pre.register(fs, "", "pretraining", pretrainDefaults, seed)
	ft.register(fs, "ft-", "fine-tuning", finetuneDefaults, seed)
	strategies := fs.String("strategies", "None,Auto,SoftPositive,SoftNegative", "label-correction strategies, comma-separated (None is the Local baseline)")
	minSamples := fs.Int("min-samples", 1, "users with fewer training samples are skipped")
	work := fs.String("work", "mem://lcft-experiment", "directory URI for the pretrained models")
	out := fs.String("out", "", "also write the results as JSON to this URI or path")
	perUser := fs.Bool("per-user", false, "include per-user rows in the --out JSON")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	ds, err := d.dataset()
	if err != nil {
		return fail(stderr, err)
	}
	strats, err := parseStrategies(*strategies)
	if err != nil {
		return fail(stderr, badInput("--strategies: %w", err))
	}
	for _, s := range strats {
		if s == "Hard" {
			return usageError(stderr, "--strategies: Hard needs a searched table; run search, then finetune --spec")
		}
	}
	archs := splitList(m.arch)
	if len(archs) == 0 {
		return usageError(stderr, "--arch lists no architecture")
	}
	res := ExperimentResult{
		Dataset: ds, Pretraining: pre.optimization(), FineTuning: ft.optimization(),
		Cohort: runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: *minSamples, Mode: runner.ModePerUser},
	}
	for _, arch := range archs {
		model, err := m.model(arch)
		if err != nil {
			return fail(stderr, err)
		}
		outURI := storage.Join(*work, arch)
		pspec := &runspec.Spec{Version: runspec.Version, Kind: runspec.KindPretrain, Name: "experiment/" + arch, Dataset: ds, Model: model,
			Optimization: res.Pretraining, OutputURI: outURI, Shards: 1}
		sum, err := runner.Run(ctx, pspec, 0, stderr)
		if err != nil {
			return fail(stderr, fmt.Errorf("pretraining %s: %w", arch, err))
		}
		p := sum.Pretrain
		cohort := res.Cohort
		fspec := &runspec.Spec{Version: runspec.Version, Kind: runspec.KindFinetune, Name: "experiment/" + arch, Dataset: ds,
			GlobalModel:  &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR},
			Optimization: res.FineTuning, Correction: &runspec.Correction{Strategy: strats[0]}, Cohort: &cohort,
			OutputURI: outURI, Shards: 1}
		reps, err := runner.CompareStrategies(ctx, fspec, strats, stderr)
		if err != nil {
			return fail(stderr, fmt.Errorf("fine-tuning %s: %w", arch, err))
		}
		res.Models = append(res.Models, ModelResult{Architecture: arch, Model: *model, Pretrain: p, Strategies: reps})
	}
	res.WallSeconds = time.Since(start).Seconds()
	printExperiment(stdout, &res)
	if *out != "" {
		if !*perUser {
			for _, mr := range res.Models {
				for _, r := range mr.Strategies {
					r.Users = nil
				}
			}
		}
		b, err := json.MarshalIndent(&res, "", " ")
		if err != nil {
			return fail(stderr, fmt.Errorf("encoding results: %w", err))
		}
		if err := storage.WriteAll(ctx, *out, append(b, '\n')); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "results written to %s\n", *out)
	}
	return runspec.ExitOK
}

func printExperiment(w io.Writer, res *ExperimentResult) {
	ftOpt := res.FineTuning
	fmt.Fprintf(w, "dataset %s %s, split %s; fine-tuning %s lr %g, %d epoch(s), batch %d, seed %d\n",
		res.Dataset.Format, res.Dataset.URI, orDefault(res.Dataset.Split.Method, runner.SplitPerUserFraction),
		ftOpt.Optimizer, ftOpt.LearningRate, ftOpt.Epochs, ftOpt.BatchSize, ftOpt.Seed)
	for _, mr := range res.Models {
		p := mr.Pretrain
		fmt.Fprintf(w, "%s: global CTR %.4f, %d users, %d training samples, Cloud AUC %.5f, pretrained in %.1f s\n",
			mr.Architecture, p.GlobalCTR, p.Users, p.Samples, p.CloudAUC, p.Seconds)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tstrategy\tusers\tCloud\tLocal\tLCFT\tLCFT-Local [95% CI]\tLCFT-Cloud [95% CI]\timproved/unchanged/degraded\t")
	for _, mr := range res.Models {
		for _, r := range mr.Strategies {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d/%d/%d\t\n",
				mr.Architecture, r.Strategy, r.LCFT.Users, auc(r.Cloud.AUC), auc(r.Local.AUC), auc(r.LCFT.AUC),
				ci(r.LCFTvsLocal), ci(r.LCFTvsCloud), r.VsCloud.Improved, r.VsCloud.Unchanged, r.VsCloud.Degraded)
		}
	}
	tw.Flush()
	if len(res.Models) > 0 && len(res.Models[0].Strategies) > 0 {
		s := res.Models[0].Strategies[0].Summary
		fmt.Fprintf(w, "\nusers: scored users (two-class test set; %d single-class and %d skipped users left out). improved/unchanged/degraded: LCFT vs Cloud per user.\n",
			s.SingleClassUsers, s.SkippedUsers)
		fmt.Fprintln(w, "strategy None fine-tunes with the original labels, so its LCFT column is Local.")
	}
	fmt.Fprintf(w, "wall time %.1f s\n", res.WallSeconds)
}

func auc(f runner.Float) string {
	if !f.Defined() {
		return "-"
	}
	return fmt.Sprintf("%.5f", float64(f))
}

func ci(iv runner.Interval) string {
	if !iv.Mean.Defined() {
		return "-"
	}
	return fmt.Sprintf("%+.5f [%+.5f, %+.5f]", float64(iv.Mean), float64(iv.Lo), float64(iv.Hi))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

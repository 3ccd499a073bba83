package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
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
// each strategy, and prints the comparison table. Strategy Hard first
// searches its table on the pretraining holdout (--holdout-fraction).
// With --seeds, the whole protocol runs once per seed and the tables over
// seeds follow (report.AverageOverSeeds).
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
	seedList := fs.String("seeds", "", "run the whole protocol once per seed, comma-separated (overrides --seed), and report the averages over seeds")
	searchQuantiles := fs.Int("search-quantiles", runspec.DefaultSearchQuantiles, "Hard: equal-user local-CTR groups of the search")
	searchMinSamples := fs.Int("search-min-samples", 5, "Hard: users with fewer fit rows are left out of the search")
	searchRepeats := fs.Int("search-repeats", 1, "Hard: fine-tuning repetitions (seeds) the search averages per user")
	work := fs.String("work", "mem://lcft-experiment", "directory URI for the pretrained models")
	out := fs.String("out", "", "also write the results as JSON to this URI or path")
	perUser := fs.Bool("per-user", false, "include per-user rows in the --out JSON")
	userModels := fs.String("user-models", runspec.UserModelsNone, "None, or Deltas to save each user's model of the first strategy as a delta under --work (the report gives their bytes)")
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
	if slices.Contains(strats, "Hard") && !(ds.Split.HoldoutFraction > 0) {
		return usageError(stderr, "--strategies: Hard searches on rows the model never saw: set --holdout-fraction (for example 0.2)")
	}
	seeds := []uint64{*seed}
	if *seedList != "" {
		seeds = nil
		for _, f := range splitList(*seedList) {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return usageError(stderr, fmt.Sprintf("--seeds: %q is not a seed", f))
			}
			seeds = append(seeds, v)
		}
	}
	if *searchRepeats < 1 || *searchRepeats > runspec.MaxSearchSeeds {
		return usageError(stderr, fmt.Sprintf("--search-repeats must be in [1, %d]", runspec.MaxSearchSeeds))
	}
	archs := splitList(m.arch)
	if len(archs) == 0 {
		return usageError(stderr, "--arch lists no architecture")
	}
	res := ExperimentResult{
		Dataset: ds, Pretraining: pre.optimization(), FineTuning: ft.optimization(),
		Cohort: runspec.Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: *minSamples, Mode: runner.ModePerUser, UserModels: *userModels},
	}
	hp := hardParams{quantiles: *searchQuantiles, minSamples: *searchMinSamples, repeats: *searchRepeats}
	for _, sd := range seeds {
		*seed = sd // the optimisations read it
		res.Pretraining, res.FineTuning = pre.optimization(), ft.optimization()
		for _, arch := range archs {
			mr, err := runProtocol(ctx, ds, m, arch, storage.Join(*work, fmt.Sprintf("seed%d", sd)), res.Pretraining, res.FineTuning, res.Cohort, strats, hp, stderr)
			if err != nil {
				return fail(stderr, err)
			}
			mr.Seed = sd
			res.Models = append(res.Models, *mr)
		}
	}
	if len(seeds) > 1 {
		res.Seeds = seeds
		var compare [][2]string
		if slices.Contains(strats, "Hard") && slices.Contains(strats, "Auto") {
			compare = append(compare, [2]string{"Hard", "Auto"})
		}
		var err error
		if res.SeedAveraged, res.Comparisons, err = report.AverageOverSeeds(res.Models, compare, runner.DefaultBootstrapResamples, seeds[0]); err != nil {
			return fail(stderr, err)
		}
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

// hardParams are the settings of the Hard search of an experiment.
type hardParams struct{ quantiles, minSamples, repeats int }

// runProtocol pretrains arch under work/arch, runs the Hard search when
// strats has Hard, and fine-tunes every user with each strategy.
func runProtocol(ctx context.Context, ds runspec.Dataset, m modelFlags, arch, work string, pre, ft runspec.Optimization, cohort runspec.Cohort,
	strats []string, hp hardParams, stderr io.Writer) (*ModelResult, error) {
	model, err := m.model(arch)
	if err != nil {
		return nil, err
	}
	outURI := storage.Join(work, arch)
	pspec := &runspec.Spec{Version: runspec.Version, Kind: runspec.KindPretrain, Name: "experiment/" + arch, Dataset: ds, Model: model,
		Optimization: pre, OutputURI: outURI, Shards: 1}
	sum, err := runner.Run(ctx, pspec, 0, stderr)
	if err != nil {
		return nil, fmt.Errorf("pretraining %s: %w", arch, err)
	}
	p := sum.Pretrain
	artifact := &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR, HoldoutFraction: p.HoldoutFraction, HoldoutSamples: p.HoldoutSamples}
	mr := &ModelResult{Architecture: arch, Model: *model, Pretrain: p}
	correction := &runspec.Correction{Strategy: strats[0]}
	if slices.Contains(strats, "Hard") {
		s := &runspec.Search{Quantiles: hp.quantiles, MinSamples: hp.minSamples}
		for i := range hp.repeats {
			s.Seeds = append(s.Seeds, int64(ft.Seed)*1000+int64(i))
		}
		sspec := &runspec.Spec{Version: runspec.Version, Kind: runspec.KindSearch, Name: "experiment/" + arch, Dataset: ds, GlobalModel: artifact,
			Optimization: ft, Search: s, OutputURI: storage.Join(outURI, "search"), Shards: 1}
		if err := sspec.Validate(); err != nil {
			return nil, badInput("%w", err)
		}
		ssum, err := runner.Run(ctx, sspec, 0, stderr)
		if err != nil {
			return nil, fmt.Errorf("searching %s: %w", arch, err)
		}
		if mr.Search, err = runspec.CombineSearch([]*runspec.Summary{ssum}); err != nil {
			return nil, fmt.Errorf("searching %s: %w", arch, err)
		}
		correction.Groups = mr.Search.Table
	}
	fspec := &runspec.Spec{Version: runspec.Version, Kind: runspec.KindFinetune, Name: "experiment/" + arch, Dataset: ds,
		GlobalModel: artifact, Optimization: ft, Correction: correction, Cohort: &cohort, OutputURI: outURI, Shards: 1}
	reps, err := runner.CompareStrategies(ctx, fspec, strats, stderr)
	if err != nil {
		return nil, fmt.Errorf("fine-tuning %s: %w", arch, err)
	}
	mr.Strategies = reps
	return mr, nil
}

func printExperiment(w io.Writer, res *ExperimentResult) {
	ftOpt := res.FineTuning
	seeds := fmt.Sprintf("seed %d", ftOpt.Seed)
	if len(res.Seeds) > 1 {
		seeds = fmt.Sprintf("seeds %v", res.Seeds)
	}
	fmt.Fprintf(w, "dataset %s %s, split %s, holdout %g; fine-tuning %s lr %g, %d epoch(s), batch %d, %s\n",
		res.Dataset.Format, res.Dataset.URI, orDefault(res.Dataset.Split.Method, runner.SplitPerUserFraction), res.Dataset.Split.HoldoutFraction,
		ftOpt.Optimizer, ftOpt.LearningRate, ftOpt.Epochs, ftOpt.BatchSize, seeds)
	for _, mr := range res.Models {
		p := mr.Pretrain
		fmt.Fprintf(w, "%s seed %d: global CTR %.4f, %d users, %d training samples (%d held out), Cloud AUC %.5f, pretrained in %.1f s\n",
			mr.Architecture, mr.Seed, p.GlobalCTR, p.Users, p.Samples, p.HoldoutSamples, p.CloudAUC, p.Seconds)
		if mr.Search != nil {
			printSearch(w, mr.Search)
		}
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
	if len(res.SeedAveraged) > 0 {
		fmt.Fprintf(w, "\nover seeds %v: each user's AUCs averaged over the seeds, paired bootstrap over users; sd: over seeds of each seed's difference\n", res.Seeds)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "model\tstrategy\tusers\tCloud\tLocal\tLCFT\tLCFT-Local [95% CI]\tsd\tLCFT-Cloud [95% CI]\tsd\t")
		for _, a := range res.SeedAveraged {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%.5f\t%s\t%.5f\t\n", a.Architecture, a.Strategy, a.Users, auc(a.Cloud), auc(a.Local), auc(a.LCFT),
				ci(a.LCFTvsLocal), a.SDLCFTLocal, ci(a.LCFTvsCloud), a.SDLCFTCloud)
		}
		for _, c := range res.Comparisons {
			fmt.Fprintf(tw, "%s\t%s-%s\t\t\t\t\t%s\t%.5f\t\t\t\n", c.Architecture, c.A, c.B, ci(c.Diff), c.SD)
		}
		tw.Flush()
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

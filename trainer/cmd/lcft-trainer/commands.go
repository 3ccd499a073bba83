package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// cmdGen writes synthetic samples as canonical CSV.
func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("gen", stderr)
	var s synthFlags
	s.register(fs, "")
	out := fs.String("out", "", "output URI or path of the canonical samples: Parquet when it ends in .parquet, else CSV (required)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *out == "" {
		return usageError(stderr, "gen needs --out")
	}
	ds, err := data.Generate(runner.SynthConfig(s.spec(), 0)) // histories are not part of the CSV
	if err != nil {
		return fail(stderr, badInput("generating synthetic data: %w", err))
	}
	err = storage.Write(ctx, *out, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		write := data.WriteCanonicalCSV
		if strings.HasSuffix(strings.SplitN(*out, "?", 2)[0], ".parquet") {
			write = data.WriteCanonicalParquet
		}
		if err := write(bw, ds); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fail(stderr, err)
	}
	g, _ := data.GlobalCTR(ds)
	fmt.Fprintf(stdout, "wrote %d samples of %d users (%d items, %d categories), global CTR %.4f, drift %g, to %s\n",
		len(ds.Samples), ds.Schema.NumUsers, ds.Schema.NumItems, ds.Schema.NumCategories, g, s.drift, *out)
	return runspec.ExitOK
}

// specCommand is the shared shape of pretrain, finetune and search: a spec
// from --spec or from flags, run as one shard, summary printed.
type specCommand struct {
	fs       *flag.FlagSet
	specPath *string
	shard    *int
}

func newSpecCommand(name string, stderr io.Writer) *specCommand {
	fs := newFlags(name, stderr)
	return &specCommand{
		fs:       fs,
		specPath: fs.String("spec", "", "run spec JSON file; when given, the other flags are ignored"),
		shard:    fs.Int("shard", 0, "shard to run (with a multi-shard spec)"),
	}
}

// spec reads --spec if given, else builds one with build.
func (c *specCommand) spec(build func() (*runspec.Spec, error)) (*runspec.Spec, error) {
	if *c.specPath != "" {
		return readSpec(*c.specPath)
	}
	spec, err := build()
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, badInput("%w", err)
	}
	return spec, nil
}

func cmdPretrain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newSpecCommand("pretrain", stderr)
	var d dataFlags
	var m modelFlags
	var o optFlags
	seed := c.fs.Uint64("seed", 1, "seed of the initialisation and the shuffles")
	d.register(c.fs, runner.FormatMovieLens)
	m.register(c.fs, "WideDeep")
	o.register(c.fs, "", "pretraining", pretrainDefaults, seed)
	out := c.fs.String("out", "", "output directory URI for model.lcft (required)")
	if code := parse(c.fs, args); code >= 0 {
		return code
	}
	spec, err := c.spec(func() (*runspec.Spec, error) {
		ds, err := d.dataset()
		if err != nil {
			return nil, err
		}
		model, err := m.model(m.arch)
		if err != nil {
			return nil, err
		}
		if *out == "" {
			return nil, badInput("pretrain needs --out")
		}
		return &runspec.Spec{Version: runspec.Version, Kind: runspec.KindPretrain, Dataset: ds, Model: model, Optimization: o.optimization(), OutputURI: *out, Shards: 1}, nil
	})
	if err != nil {
		return fail(stderr, err)
	}
	sum, err := runner.Run(ctx, spec, *c.shard, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	printPretrain(stdout, sum.Pretrain)
	return runspec.ExitOK
}

func printPretrain(w io.Writer, p *runspec.PretrainStats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", p.ArtifactURI)
	fmt.Fprintf(tw, "digest\t%s\n", p.Digest)
	fmt.Fprintf(tw, "global CTR\t%.4f\n", p.GlobalCTR)
	fmt.Fprintf(tw, "users\t%d (%d training samples)\n", p.Users, p.Samples)
	if p.HoldoutSamples > 0 {
		fmt.Fprintf(tw, "holdout\t%d train rows held out of pretraining (the last %g of each user's)\n", p.HoldoutSamples, p.HoldoutFraction)
	}
	fmt.Fprintf(tw, "Cloud AUC\t%.5f (user-level, test split)\n", p.CloudAUC)
	var qs []string
	for _, q := range p.Quantiles {
		qs = append(qs, fmt.Sprintf("q%g=%.3f", q[0], q[1]))
	}
	fmt.Fprintf(tw, "local CTR quantiles\t%s\n", strings.Join(qs, " "))
	fmt.Fprintf(tw, "time\t%.1f s\n", p.Seconds)
	tw.Flush()
}

// globalModelFlags locate the model a fine-tune or search starts from.
type globalModelFlags struct {
	uri, digest string
	globalCTR   float64
}

func (g *globalModelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.uri, "model", "", "URI of the global model artifact (required)")
	fs.StringVar(&g.digest, "digest", "", "expected sha256:<hex> digest of the model (checked when set)")
	fs.Float64Var(&g.globalCTR, "global-ctr", 0, "global CTR of the model's training data (0: computed from the dataset's train split)")
}

// artifact returns the ModelArtifact, with ds's holdout fraction; a zero
// global CTR is computed from the train split of ds without its holdout,
// which is the model's training data when the same dataset, split and
// holdout were used to pretrain.
func (g *globalModelFlags) artifact(ctx context.Context, ds runspec.Dataset) (*runspec.ModelArtifact, error) {
	if g.uri == "" {
		return nil, badInput("--model is required")
	}
	a := &runspec.ModelArtifact{URI: g.uri, Digest: g.digest, GlobalCTR: g.globalCTR, HoldoutFraction: ds.Split.HoldoutFraction}
	if a.GlobalCTR == 0 {
		all, _, err := runner.LoadDataset(ctx, ds, data.Selection{})
		if err != nil {
			return nil, err
		}
		train, _, err := runner.SplitDataset(all, ds.Split)
		if err != nil {
			return nil, err
		}
		if h := ds.Split.HoldoutFraction; h > 0 {
			if train, _, err = data.SplitLast(train, func(n int) int { return runspec.HoldoutCount(n, h) }); err != nil {
				return nil, badInput("holdout: %w", err)
			}
		}
		if a.GlobalCTR, err = data.GlobalCTR(train); err != nil {
			return nil, badInput("global CTR: %w", err)
		}
	}
	return a, nil
}

func cmdFinetune(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newSpecCommand("finetune", stderr)
	var d dataFlags
	var g globalModelFlags
	var co cohortFlags
	var o optFlags
	seed := c.fs.Uint64("seed", 1, "seed of the batch shuffles")
	d.register(c.fs, runner.FormatMovieLens)
	g.register(c.fs)
	co.register(c.fs, 5)
	o.register(c.fs, "", "fine-tuning", finetuneDefaults, seed)
	strategy := c.fs.String("strategy", "Auto", "label correction: None, SoftPositive, SoftNegative or Auto (Hard: use --spec)")
	shards := c.fs.Int("shards", 1, "number of shards the cohort is split into (run each with --shard)")
	out := c.fs.String("out", "", "output directory URI for the report (required)")
	if code := parse(c.fs, args); code >= 0 {
		return code
	}
	spec, err := c.spec(func() (*runspec.Spec, error) {
		ds, err := d.dataset()
		if err != nil {
			return nil, err
		}
		if *out == "" {
			return nil, badInput("finetune needs --out")
		}
		a, err := g.artifact(ctx, ds)
		if err != nil {
			return nil, err
		}
		return &runspec.Spec{
			Version: runspec.Version, Kind: runspec.KindFinetune, Dataset: ds, GlobalModel: a, Optimization: o.optimization(),
			Correction: &runspec.Correction{Strategy: *strategy}, Cohort: co.cohort(), OutputURI: *out, Shards: *shards,
		}, nil
	})
	if err != nil {
		return fail(stderr, err)
	}
	sum, err := runner.Run(ctx, spec, *c.shard, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	printFinetune(stdout, sum)
	return runspec.ExitOK
}

func printFinetune(w io.Writer, sum *runspec.Summary) {
	f := sum.Finetune
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "users\t%d fine-tuned (%d skipped, %d with a single-class test set), %d with corrected labels\n", f.Users, f.SkippedUsers, f.SingleClassUsers, f.CorrectedUsers)
	cloud, okC := f.Cloud.Value()
	local, okL := f.Local.Value()
	lcft, okF := f.LCFT.Value()
	if okC && okL && okF {
		fmt.Fprintf(tw, "user-level AUC\tCloud %.5f  Local %.5f  LCFT %.5f\n", cloud, local, lcft)
		fmt.Fprintf(tw, "lift\tLCFT-Cloud %+.5f  LCFT-Local %+.5f\n", lcft-cloud, lcft-local)
		iL, okIL := f.LCFTLocal.Interval95()
		iC, okIC := f.LCFTCloud.Interval95()
		if okIL && okIC {
			fmt.Fprintf(tw, "95%% CI (normal, from the additive sums; * excludes 0)\tLCFT-Cloud %s  LCFT-Local %s\n", fmtInterval(iC), fmtInterval(iL))
		}
	} else {
		fmt.Fprintf(tw, "user-level AUC\tundefined: no user with a two-class test set\n")
	}
	fmt.Fprintf(tw, "LCFT vs Cloud\t%d improved, %d unchanged, %d degraded\n", f.Improved, f.Unchanged, f.Degraded)
	if d := f.DivergedUsers; d.Local > 0 || d.LCFT > 0 {
		fmt.Fprintf(tw, "diverged\t%d users in Local, %d in LCFT: rolled back to the Cloud model there (listed in the report)\n", d.Local, d.LCFT)
	}
	if f.Samples > 0 {
		fmt.Fprintf(tw, "labels\tmean positive %.4f, mean negative %.4f (per training sample)\n", f.PositiveLabelSum/float64(f.Samples), f.NegativeLabelSum/float64(f.Samples))
		fmt.Fprintf(tw, "throughput\t%d samples in %.1f s\n", f.Samples, f.Seconds)
	}
	if f.UserModels > 0 {
		fmt.Fprintf(tw, "user models\t%d users, %d bytes of deltas (%.0f per user): %s\n", f.UserModels, f.UserModelBytes, float64(f.UserModelBytes)/float64(f.UserModels), sum.UserModelsURI)
	}
	if m := sum.Model; m != nil {
		note := ""
		if m.RolledBack {
			note = "; the pooled fine-tuning diverged: this is the global model"
		}
		fmt.Fprintf(tw, "group model\t%s (%s%s)\n", m.URI, m.Digest, note)
	}
	fmt.Fprintf(tw, "report\t%s\n", sum.ReportURI)
	tw.Flush()
}

func cmdSearch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newSpecCommand("search", stderr)
	var d dataFlags
	var g globalModelFlags
	var o optFlags
	seed := c.fs.Uint64("seed", 1, "seed of the batch shuffles")
	d.register(c.fs, runner.FormatMovieLens)
	g.register(c.fs)
	o.register(c.fs, "", "fine-tuning", finetuneDefaults, seed)
	boundaries := c.fs.String("boundaries", "", "inner local-CTR group edges, comma-separated (or --quantiles)")
	quantiles := c.fs.Int("quantiles", 0, "number of equal-user local-CTR groups (0 and no boundaries: 3)")
	pos := c.fs.String("pos-labels", "", "grid of positive labels, comma-separated (empty with --neg-labels empty: the default grid)")
	neg := c.fs.String("neg-labels", "", "grid of negative labels, comma-separated")
	minSamples := c.fs.Int("min-samples", 5, "users with fewer fit rows (train rows not held out) are left out")
	seeds := c.fs.String("seeds", "", "seeds of repeated fine-tuning, comma-separated (each user's AUC is averaged over them; empty: --seed once)")
	shards := c.fs.Int("shards", 1, "number of shards the search's users are split into (run each with --shard; combine with lcft-trainer report)")
	out := c.fs.String("out", "", "output directory URI for the report (required)")
	if code := parse(c.fs, args); code >= 0 {
		return code
	}
	spec, err := c.spec(func() (*runspec.Spec, error) {
		ds, err := d.dataset()
		if err != nil {
			return nil, err
		}
		if *out == "" {
			return nil, badInput("search needs --out")
		}
		s := &runspec.Search{Quantiles: *quantiles, MinSamples: *minSamples}
		for _, f := range splitList(*seeds) {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, badInput("--seeds: %q is not an integer", f)
			}
			s.Seeds = append(s.Seeds, v)
		}
		for _, l := range []struct {
			flag string
			src  string
			dst  *[]float64
		}{{"--boundaries", *boundaries, &s.Boundaries}, {"--pos-labels", *pos, &s.PositiveLabels}, {"--neg-labels", *neg, &s.NegativeLabels}} {
			if *l.dst, err = parseFloats(l.src); err != nil {
				return nil, badInput("%s: %w", l.flag, err)
			}
		}
		a, err := g.artifact(ctx, ds)
		if err != nil {
			return nil, err
		}
		return &runspec.Spec{Version: runspec.Version, Kind: runspec.KindSearch, Dataset: ds, GlobalModel: a, Optimization: o.optimization(), Search: s, OutputURI: *out, Shards: *shards}, nil
	})
	if err != nil {
		return fail(stderr, err)
	}
	sum, err := runner.Run(ctx, spec, *c.shard, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	res, err := runspec.CombineSearch([]*runspec.Summary{sum})
	if err != nil {
		return fail(stderr, err)
	}
	if spec.Shards > 1 {
		fmt.Fprintf(stdout, "shard %d of %d: the choice below is this shard's alone\n", *c.shard, spec.Shards)
	}
	printSearch(stdout, res)
	fmt.Fprintf(stdout, "report\t%s\n", sum.ReportURI)
	return runspec.ExitOK
}

// printSearch prints a search's choice per group.
func printSearch(w io.Writer, res *runspec.SearchResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "local CTR\tusers (scored)\tchoice\tlift vs Auto [95% CI]\tlift vs Local [95% CI]\treason")
	for _, g := range res.Groups {
		choice := "Auto"
		if !g.Auto {
			choice = fmt.Sprintf("(%.4f, %.4f) %s", g.Chosen.Positive, g.Chosen.Negative, g.Chosen.Source)
		}
		fmt.Fprintf(tw, "[%.3f, %.3f)\t%d (%d)\t%s\t%s\t%s\t%s\n", g.Min, g.Max, g.Users, g.ScoredUsers, choice, fmtInterval(g.LiftVsAuto), fmtInterval(g.LiftVsLocal), g.Message)
	}
	tw.Flush()
}

// fmtInterval is "mean [lo, hi]", with a star when it excludes 0.
func fmtInterval(iv runspec.Interval) string {
	star := ""
	if iv.Significant() {
		star = " *"
	}
	return fmt.Sprintf("%+.5f [%+.5f, %+.5f]%s", iv.Mean, iv.Lo, iv.Hi, star)
}

func cmdEvaluate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("evaluate", stderr)
	specPath := fs.String("spec", "", "run spec JSON file (its dataset and globalModel are used); when given, the other flags are ignored")
	var d dataFlags
	var g globalModelFlags
	d.register(fs, runner.FormatMovieLens)
	g.register(fs)
	if code := parse(fs, args); code >= 0 {
		return code
	}
	var spec *runspec.Spec
	if *specPath != "" {
		var err error
		if spec, err = readSpec(*specPath); err != nil {
			return fail(stderr, err)
		}
	} else {
		ds, err := d.dataset()
		if err != nil {
			return fail(stderr, err)
		}
		if g.uri == "" {
			return usageError(stderr, "evaluate needs --model")
		}
		spec = &runspec.Spec{Dataset: ds, GlobalModel: &runspec.ModelArtifact{URI: g.uri, Digest: g.digest}}
	}
	ev, err := runner.Evaluate(ctx, spec, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s, %s)\n", ev.ModelURI, ev.Architecture, ev.Digest)
	fmt.Fprintf(tw, "Cloud AUC\t%.5f (user-level over %d users; %d single-class users left out; %d test samples)\n", float64(ev.AUC), ev.Users, ev.SingleClassUsers, ev.TestSamples)
	tw.Flush()
	return runspec.ExitOK
}

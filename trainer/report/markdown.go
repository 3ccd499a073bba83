package report

import (
	"cmp"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// DatasetLabel is a short name of a data set for titles: "MovieLens
// movielens-small", "Synthetic, drift 0.9, seed 7", "Samples x.csv".
func DatasetLabel(d runspec.Dataset) string {
	switch {
	case d.Format == "":
		return ""
	case d.Synthetic != nil:
		s := d.Synthetic
		return fmt.Sprintf("Synthetic, drift %g, seed %d", s.Drift, s.Seed)
	case d.URI != "":
		return d.Format + " " + path.Base(strings.TrimRight(strings.SplitN(d.URI, "?", 2)[0], "/"))
	}
	return d.Format
}

// Markdown writes r as markdown: for fine-tuning results the settings, the
// models' pretraining and timing, and the Cloud / Local / LCFT table with
// paired bootstrap intervals; for a search report the chosen Hard labels
// per local-CTR group.
func Markdown(w io.Writer, r *Result) error {
	mw := &mdWriter{w: w}
	switch {
	case r.Search != nil:
		mw.search(r.Search)
	case r.Experiment != nil:
		mw.experiment(r.Experiment, r.Kind)
	default:
		return fmt.Errorf("%w: nothing to tabulate", ErrInput)
	}
	for _, n := range r.Notes {
		mw.printf("\nNote: %s\n", n)
	}
	return mw.err
}

type mdWriter struct {
	w   io.Writer
	err error
}

func (m *mdWriter) printf(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format, args...)
	}
}

func optimization(o runspec.Optimization) string {
	s := fmt.Sprintf("%s lr %g", cmp.Or(o.Optimizer, runner.OptimizerSGD), o.LearningRate)
	if o.LearningRateDecay != 0 && o.LearningRateDecay != 1 {
		s += fmt.Sprintf(" (×%g per epoch)", o.LearningRateDecay)
	}
	return s + fmt.Sprintf(", %d epoch(s), batch %d, seed %d", o.Epochs, o.BatchSize, o.Seed)
}

func datasetLine(d runspec.Dataset) string {
	var b strings.Builder
	b.WriteString(d.Format)
	if d.URI != "" {
		fmt.Fprintf(&b, " `%s`", d.URI)
	}
	if s := d.Synthetic; s != nil {
		fmt.Fprintf(&b, " (%d users, %d items, %d categories, %d samples per user on average, target global CTR %g, drift %g, data seed %d)",
			s.Users, s.Items, s.Categories, s.SamplesPerUser, s.GlobalCTR, s.Drift, s.Seed)
	}
	if d.PositiveThreshold != 0 {
		fmt.Fprintf(&b, ", positive when rating ≥ %g", d.PositiveThreshold)
	}
	if n := d.Negatives; n != nil {
		fmt.Fprintf(&b, ", every row a positive with %d sampled negatives (seed %d)", cmp.Or(n.PerPositive, data.DefaultNegativesPerPositive), n.Seed)
	}
	split := cmp.Or(d.Split.Method, runner.SplitPerUserFraction)
	fmt.Fprintf(&b, "; split %s", split)
	if split == runner.SplitPerUserFraction {
		fmt.Fprintf(&b, " (each user's first %g of samples by time train, the rest test)", cmp.Or(d.Split.TrainFraction, runner.DefaultTrainFraction))
	} else if d.Split.Timestamp != 0 {
		fmt.Fprintf(&b, " at Unix time %d", d.Split.Timestamp)
	}
	if d.HistoryLength != 0 {
		fmt.Fprintf(&b, "; histories capped at %d items", d.HistoryLength)
	}
	return b.String()
}

// auc5 formats an AUC or difference with 5 decimals; "–" when undefined.
func auc5(f runner.Float, signed bool) string {
	if !f.Defined() {
		return "–"
	}
	if signed {
		return signed5(float64(f))
	}
	return fmt.Sprintf("%.5f", float64(f))
}

func signed5(v float64) string {
	s := fmt.Sprintf("%+.5f", v)
	if s == "-0.00000" || s == "+0.00000" {
		return "0.00000"
	}
	return strings.Replace(s, "-", "−", 1)
}

// ciCell is "mean [lo, hi]", bold when the interval excludes 0.
func ciCell(iv runner.Interval) string {
	if !iv.Mean.Defined() {
		return "–"
	}
	s := fmt.Sprintf("%s [%s, %s]", signed5(float64(iv.Mean)), signed5(float64(iv.Lo)), signed5(float64(iv.Hi)))
	if float64(iv.Lo) > 0 || float64(iv.Hi) < 0 {
		return "**" + s + "**"
	}
	return s
}

func (m *mdWriter) experiment(e *Experiment, kind string) {
	if kind == KindExperiment {
		m.printf("- data: %s\n", datasetLine(e.Dataset))
		m.printf("- pretraining (Cloud): %s\n", optimization(e.Pretraining))
	}
	m.printf("- fine-tuning (Local, LCFT): %s; %s, users with at least %d training sample(s)\n",
		optimization(e.FineTuning), cmp.Or(e.Cohort.Mode, runner.ModePerUser), e.Cohort.MinSamples)
	if kind == KindExperiment {
		m.printf("- wall time of the whole run: %.1f s\n", e.WallSeconds)
	}
	m.printf("\n| model | global CTR | users | training samples | Cloud AUC | pretraining s | fine-tuning s |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, mr := range e.Models {
		ft := 0.0
		if len(mr.Strategies) > 0 {
			ft = mr.Strategies[0].Summary.Seconds
		}
		if p := mr.Pretrain; p != nil {
			m.printf("| %s | %.4f | %d | %d | %.5f | %.1f | %.1f |\n", mr.Architecture, p.GlobalCTR, p.Users, p.Samples, p.CloudAUC, p.Seconds, ft)
		} else if len(mr.Strategies) > 0 {
			r := mr.Strategies[0]
			m.printf("| %s | %.4f | %d | %d | %s | – | %.1f |\n", mr.Architecture, r.GlobalCTR, r.Summary.Users, r.Summary.Samples, auc5(r.Cloud.AUC, false), ft)
		}
	}
	m.printf("\n| model | strategy | users | Cloud | Local | LCFT | LCFT−Local [95%% CI] | LCFT−Cloud [95%% CI] | improved / unchanged / degraded |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	single, skipped := int64(-1), int64(-1)
	for _, mr := range e.Models {
		for _, r := range mr.Strategies {
			m.printf("| %s | %s | %d | %s | %s | %s | %s | %s | %d / %d / %d |\n",
				mr.Architecture, r.Strategy, r.LCFT.Users, auc5(r.Cloud.AUC, false), auc5(r.Local.AUC, false), auc5(r.LCFT.AUC, false),
				ciCell(r.LCFTvsLocal), ciCell(r.LCFTvsCloud), r.VsCloud.Improved, r.VsCloud.Unchanged, r.VsCloud.Degraded)
			if single < 0 {
				single, skipped = r.Summary.SingleClassUsers, r.Summary.SkippedUsers
			}
		}
	}
	resamples := runner.DefaultBootstrapResamples
	if len(e.Models) > 0 && len(e.Models[0].Strategies) > 0 {
		resamples = cmp.Or(e.Models[0].Strategies[0].LCFTvsLocal.Resamples, resamples)
	}
	m.printf("\nusers: users with a two-class test set (%d single-class and %d skipped users left out). AUCs are user-level (each user's test AUC weighted by the user's test-set size). "+
		"CIs: %d-resample paired bootstrap over users; bold when the interval excludes 0. improved / unchanged / degraded: LCFT versus Cloud per user (|ΔAUC| ≤ 1e-9 is unchanged). "+
		"Strategy None fine-tunes with the original labels, so its LCFT is Local.\n", max(single, 0), max(skipped, 0), resamples)
	m.seedAveraged(e)
}

// seedAveraged prints the tables over seeds and the Hard searches' choices.
func (m *mdWriter) seedAveraged(e *Experiment) {
	for _, mr := range e.Models {
		s := mr.Search
		if s == nil {
			continue
		}
		m.printf("\nHard search, %s seed %d (validation on the pretraining holdout):\n\n| local CTR group | users (scored) | choice | why | lift over Auto | lift over Local | best cell | its lift over Auto |\n|---|---:|---|---|---:|---:|---|---:|\n", mr.Architecture, mr.Seed)
		for _, g := range s.Groups {
			choice, best, bestLift := groupChoice(g)
			m.printf("| [%.3f, %.3f) | %d (%d) | %s | %s | %s | %s | %s | %s |\n", g.Min, g.Max, g.Users, g.ScoredUsers, choice, g.Reason,
				normalCI(g.LiftVsAuto), normalCI(g.LiftVsLocal), best, bestLift)
		}
	}
	m.searchSurface(e)
	if len(e.SeedAveraged) == 0 {
		return
	}
	m.printf("\nOver seeds %v (each user's AUCs averaged over the seeds, then a paired bootstrap over users; SD: standard deviation over seeds of each seed's difference):\n\n", e.Seeds)
	m.printf("| model | strategy | users | Cloud | Local | LCFT | LCFT−Local [95%% CI] | SD over seeds | LCFT−Cloud [95%% CI] | SD over seeds |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range e.SeedAveraged {
		m.printf("| %s | %s | %d | %s | %s | %s | %s | %.5f | %s | %.5f |\n", a.Architecture, a.Strategy, a.Users,
			auc5(a.Cloud, false), auc5(a.Local, false), auc5(a.LCFT, false), ciCell(a.LCFTvsLocal), a.SDLCFTLocal, ciCell(a.LCFTvsCloud), a.SDLCFTCloud)
	}
	if len(e.Comparisons) == 0 {
		return
	}
	m.printf("\n| model | comparison (LCFT) | difference [95%% CI] | SD over seeds | per seed |\n|---|---|---:|---:|---|\n")
	for _, c := range e.Comparisons {
		var per []string
		for _, v := range c.PerSeed {
			per = append(per, signed5(v))
		}
		m.printf("| %s | %s − %s | %s | %.5f | %s |\n", c.Architecture, c.A, c.B, ciCell(c.Diff), c.SD, strings.Join(per, ", "))
	}
}

func (m *mdWriter) search(s *runner.SearchReport) {
	m.printf("- global model: %s (`%s`), global CTR %.4f\n", s.Architecture, s.ModelURI, s.GlobalCTR)
	m.printf("- fine-tuning: %s; %d seed(s) %v, each user's AUC averaged over them; validation on the last %g of each user's train rows, which the global model held out of pretraining; users with at least %d fit rows (%d left out)\n",
		optimization(s.Optimization), len(s.Seeds), s.Seeds, s.HoldoutFraction, s.MinSamples, s.SkippedUsers)
	switch {
	case s.Shards > 1 && s.Shard < 0:
		m.printf("- %d shards combined (runspec.CombineSearch); the settings and time above are the first shard's\n", s.Shards)
	case s.Shards > 1:
		m.printf("- shard %d of %d: the choice below is this shard's alone; pass every shard's report to combine them\n", s.Shard, s.Shards)
	}
	m.printf("- search time: %.1f s\n", s.Seconds)
	if s.Result == nil {
		return
	}
	m.printf("\n| local CTR group | users (scored) | mean local CTR | choice | why | lift over Auto | lift over Local | best cell | its lift over Auto |\n|---|---:|---:|---|---|---:|---:|---|---:|\n")
	for _, g := range s.Result.Groups {
		choice, best, bestLift := groupChoice(g)
		m.printf("| [%.3f, %.3f) | %d (%d) | %.3f | %s | %s | %s | %s | %s | %s |\n",
			g.Min, g.Max, g.Users, g.ScoredUsers, g.MeanLocalCTR, choice, g.Reason, normalCI(g.LiftVsAuto), normalCI(g.LiftVsLocal), best, bestLift)
	}
	m.printf("\nLifts are differences of user-level validation AUC (each user's AUC averaged over the seeds, weighted by the user's held-out rows) with 95%% normal intervals of the size-weighted mean; bold when the interval excludes 0. " +
		"A group leaves Auto only when its best cell's interval over Auto lies above 0. The best cell is selected on the same rows, so its lift is optimistic.\n")
}

// groupChoice formats a searched group's choice (Auto or the chosen cell's
// labels), its best cell and that cell's lift over Auto.
func groupChoice(g runspec.SearchGroupResult) (choice, best, bestLift string) {
	choice, best, bestLift = "Auto", "–", "–"
	if !g.Auto {
		choice = fmt.Sprintf("(%.3f, %.3f) %s", g.Chosen.Positive, g.Chosen.Negative, g.Chosen.Source)
	}
	if g.Best >= 0 {
		c := g.Cells[g.Best]
		best, bestLift = fmt.Sprintf("(%.3f, %.3f) %s", c.Positive, c.Negative, c.Source), normalCI(c.LiftVsAuto)
	}
	return choice, best, bestLift
}

// searchSurface prints the whole grid of each architecture's first Hard
// search: per cell (row) and group (column), the cell's labels and its mean
// validation lift over Auto (bold when its interval excludes 0; "div." when
// fine-tuning diverged under it).
func (m *mdWriter) searchSurface(e *Experiment) {
	var seen []string
	for _, mr := range e.Models {
		s := mr.Search
		if s == nil || slices.Contains(seen, mr.Architecture) {
			continue
		}
		seen = append(seen, mr.Architecture)
		var sources []string
		for _, g := range s.Groups {
			for _, c := range g.Cells {
				if !slices.Contains(sources, c.Source) {
					sources = append(sources, c.Source)
				}
			}
		}
		m.printf("\nSearch surface, %s seed %d: each cell's (y+, y−) and mean validation lift over Auto per group\n\n| cell |", mr.Architecture, mr.Seed)
		for _, g := range s.Groups {
			m.printf(" [%.3f, %.3f) |", g.Min, g.Max)
		}
		m.printf("\n|---|%s\n", strings.Repeat("---:|", len(s.Groups)))
		for _, src := range sources {
			m.printf("| %s |", src)
			for _, g := range s.Groups {
				i := slices.IndexFunc(g.Cells, func(c runspec.CellResult) bool { return c.Source == src })
				switch {
				case i < 0:
					m.printf(" – |")
				case g.Cells[i].Diverged > 0:
					m.printf(" (%.3g, %.3g) div. |", g.Cells[i].Positive, g.Cells[i].Negative)
				default:
					lift := signed5(g.Cells[i].LiftVsAuto.Mean)
					if g.Cells[i].LiftVsAuto.Significant() {
						lift = "**" + lift + "**"
					}
					m.printf(" (%.3g, %.3g) %s |", g.Cells[i].Positive, g.Cells[i].Negative, lift)
				}
			}
			m.printf("\n")
		}
	}
}

// normalCI is "mean [lo, hi]" of a normal interval, bold when it excludes 0.
func normalCI(iv runspec.Interval) string {
	s := fmt.Sprintf("%s [%s, %s]", signed5(iv.Mean), signed5(iv.Lo), signed5(iv.Hi))
	if iv.Significant() {
		return "**" + s + "**"
	}
	return s
}

func meanCTR(f runner.Float) string {
	if !f.Defined() {
		return "–"
	}
	return fmt.Sprintf("%.3f", float64(f))
}

func diff(a, b runner.Float) string {
	if !a.Defined() || !b.Defined() {
		return "–"
	}
	return signed5(float64(a) - float64(b))
}

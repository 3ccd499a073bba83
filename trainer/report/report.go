// Package report turns the trainer's result JSONs into the paper's three
// pictures (arXiv 2211.01163, Figures 1 to 3) and markdown tables:
//
//   - the histogram of the users' local CTRs with the global CTR marked
//     (the CTR drift that label correction targets);
//   - the lift of LCFT over Local per local-CTR bucket, with a paired
//     bootstrap interval per bucket when per-user rows are present;
//   - the share of users whose AUC went up, stayed or went down versus the
//     Cloud model, one bar per strategy.
//
// Inputs are a fine-tuning report (report-shard-<i>.json; several shards of
// one run are merged), the JSON of "lcft-trainer experiment --out" (per-user
// rows with --per-user), or a search report (search-report-shard-<i>.json, tables
// only). Pictures are written as PNG and SVG through trainer/storage.
package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// Kinds of result files.
const (
	KindFinetune   = "finetune"   // report-shard-<i>.json of a fine-tuning run
	KindExperiment = "experiment" // lcft-trainer experiment --out
	KindSearch     = "search"     // search-report-shard-<i>.json of a Hard search
)

// ErrInput is wrapped by errors about the content of an input (not JSON,
// an unknown shape, shards that do not belong together): bad input.
var ErrInput = errors.New("unusable result file")

// Experiment is the JSON of "lcft-trainer experiment --out" (the CLI's
// ExperimentResult; the two must stay field-for-field compatible).
type Experiment struct {
	Dataset     runspec.Dataset      `json:"dataset"`
	Pretraining runspec.Optimization `json:"pretraining"`
	FineTuning  runspec.Optimization `json:"fineTuning"`
	Cohort      runspec.Cohort       `json:"cohort"`
	Models      []ModelResult        `json:"models"`
	WallSeconds float64              `json:"wallSeconds"`
	// Seeds, with more than one, ran the whole protocol once per seed
	// (Models holds one result per architecture and seed); SeedAveraged
	// and Comparisons summarise them (AverageOverSeeds).
	Seeds        []uint64         `json:"seeds,omitempty"`
	SeedAveraged []SeedAverage    `json:"seedAveraged,omitempty"`
	Comparisons  []SeedComparison `json:"comparisons,omitempty"`
}

// ModelResult is one architecture of an experiment: its pretraining and
// one fine-tuning report per strategy.
type ModelResult struct {
	Architecture string                 `json:"architecture"`
	Model        runspec.Model          `json:"model"`
	Pretrain     *runspec.PretrainStats `json:"pretrain"`
	Strategies   []*runner.Report       `json:"strategies"`
	// Seed of this run (pretraining, search and fine-tuning shuffles).
	Seed uint64 `json:"seed,omitempty"`
	// Search is the Hard search's result when strategy Hard ran: its
	// table is what Hard fine-tuned with.
	Search *runspec.SearchResult `json:"search,omitempty"`
}

// Result is a decoded input. Fine-tuning reports are presented as an
// Experiment without dataset or pretraining (Kind tells them apart): one
// model per global model digest, one strategy per report (shards merged).
type Result struct {
	Kind       string
	Experiment *Experiment          // KindExperiment and KindFinetune
	Search     *runner.SearchReport // KindSearch
	Notes      []string             // things a reader should know (missing shards, no per-user rows)
	Sources    []string             // the input URIs
}

// Load reads and decodes the result files at uris (see Decode).
func Load(ctx context.Context, uris ...string) (*Result, error) {
	if len(uris) == 0 {
		return nil, fmt.Errorf("%w: no input", ErrInput)
	}
	blobs := make([][]byte, len(uris))
	for i, u := range uris {
		b, err := storage.ReadAll(ctx, u)
		if err != nil {
			return nil, err
		}
		blobs[i] = b
	}
	r, err := Decode(uris, blobs)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Decode decodes result files named names (for messages) with contents
// blobs: one experiment JSON, one search report, or any number of
// fine-tuning reports (shards of the same run are merged; reports of
// different strategies or models sit side by side).
func Decode(names []string, blobs [][]byte) (*Result, error) {
	if len(names) != len(blobs) || len(blobs) == 0 {
		return nil, fmt.Errorf("%w: %d names for %d files", ErrInput, len(names), len(blobs))
	}
	kinds := make([]string, len(blobs))
	for i, b := range blobs {
		k, err := kindOf(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInput, names[i], err)
		}
		kinds[i] = k
	}
	res := &Result{Kind: kinds[0], Sources: names}
	if len(blobs) > 1 {
		for i, k := range kinds {
			if k != kinds[0] || (k != KindFinetune && k != KindSearch) {
				return nil, fmt.Errorf("%w: %s is a %s result; only the shards of one fine-tuning or search run can be combined", ErrInput, names[i], k)
			}
		}
	}
	switch res.Kind {
	case KindExperiment:
		var e Experiment
		if err := json.Unmarshal(blobs[0], &e); err != nil {
			return nil, fmt.Errorf("%w: %s: decoding experiment: %w", ErrInput, names[0], err)
		}
		res.Experiment = &e
	case KindSearch:
		s, err := combineSearchShards(names, blobs)
		if err != nil {
			return nil, err
		}
		res.Search = s
	default:
		reps := make([]*runner.Report, len(blobs))
		for i, b := range blobs {
			r, err := runner.DecodeReport(b)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInput, names[i], err)
			}
			reps[i] = r
		}
		e, notes, err := fromReports(names, reps)
		if err != nil {
			return nil, err
		}
		res.Experiment, res.Notes = e, notes
	}
	if e := res.Experiment; e != nil {
		for _, m := range e.Models {
			if len(m.Strategies) > 0 && len(m.Strategies[0].Users) == 0 {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: no per-user rows (experiment --per-user writes them): the local-CTR histogram is skipped and the lift per bucket comes without intervals", m.Architecture))
			}
		}
	}
	return res, nil
}

// combineSearchShards decodes search shard reports; with several, the
// first one's result is replaced by runspec.CombineSearch over every
// shard's summary (the search's result).
func combineSearchShards(names []string, blobs [][]byte) (*runner.SearchReport, error) {
	var first *runner.SearchReport
	var sums []*runspec.Summary
	for i, b := range blobs {
		s, err := runner.DecodeSearchReport(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInput, names[i], err)
		}
		if first == nil {
			first = s
		}
		st := s.Summary
		sums = append(sums, &runspec.Summary{Kind: runspec.KindSearch, Shard: s.Shard, Search: &st})
	}
	if len(blobs) == 1 {
		return first, nil
	}
	res, err := runspec.CombineSearch(sums)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	first.Result, first.Table, first.Shards, first.Shard = res, res.Table, len(blobs), -1
	return first, nil
}

// kindOf tells the result kinds apart by their top-level fields.
func kindOf(b []byte) (string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	has := func(k string) bool { _, ok := top[k]; return ok }
	switch {
	case has("models") && has("fineTuning"):
		return KindExperiment, nil
	case has("groups") && has("table"):
		return KindSearch, nil
	case has("strategy") && has("users"):
		return KindFinetune, nil
	}
	return "", errors.New("neither a fine-tuning report, an experiment result nor a search report")
}

// fromReports groups fine-tuning reports by global model (digest) and
// strategy, merging the shards of each group.
func fromReports(names []string, reps []*runner.Report) (*Experiment, []string, error) {
	type key struct{ digest, strategy string }
	var order []key
	groups := map[key][]int{}
	for i, r := range reps {
		k := key{r.ModelDigest, r.Strategy}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	e := &Experiment{}
	var notes []string
	modelIdx := map[string]int{}
	for _, k := range order {
		idx := groups[k]
		shards := make([]*runner.Report, len(idx))
		for j, i := range idx {
			shards[j] = reps[i]
		}
		merged, note, err := mergeShards(shards, names, idx)
		if err != nil {
			return nil, nil, err
		}
		if note != "" {
			notes = append(notes, note)
		}
		m, ok := modelIdx[k.digest]
		if !ok {
			m = len(e.Models)
			modelIdx[k.digest] = m
			e.Models = append(e.Models, ModelResult{Architecture: merged.Architecture, Model: runspec.Model{Architecture: merged.Architecture}})
		}
		e.Models[m].Strategies = append(e.Models[m].Strategies, merged)
	}
	first := reps[0]
	e.FineTuning, e.Cohort = first.Optimization, first.Cohort
	return e, notes, nil
}

// mergeShards combines the shard reports of one run into one report over
// all their users, recomputing the aggregates from the per-user rows.
func mergeShards(shards []*runner.Report, names []string, idx []int) (*runner.Report, string, error) {
	if len(shards) == 1 {
		return shards[0], "", nil
	}
	slices.SortStableFunc(shards, func(a, b *runner.Report) int { return cmp.Compare(a.Shard, b.Shard) })
	first := shards[0]
	seen := map[int]bool{}
	out := *first
	out.Users = nil
	out.Summary = runspec.FinetuneStats{}
	for j, s := range shards {
		if s.Shards != first.Shards || s.Mode != first.Mode || s.GlobalCTR != first.GlobalCTR {
			return nil, "", fmt.Errorf("%w: %s is shard %d of %d (%s, g %v), %s of %d (%s, g %v): not the same run",
				ErrInput, names[idx[j]], s.Shard, s.Shards, s.Mode, s.GlobalCTR, first.Name, first.Shards, first.Mode, first.GlobalCTR)
		}
		if seen[s.Shard] {
			return nil, "", fmt.Errorf("%w: shard %d of %s %s given twice", ErrInput, s.Shard, first.Architecture, first.Strategy)
		}
		seen[s.Shard] = true
		out.Users = append(out.Users, s.Users...)
		out.Summary.Add(&s.Summary)
	}
	resamples := cmp.Or(first.LCFTvsLocal.Resamples, runner.DefaultBootstrapResamples)
	if err := Summarize(&out, resamples); err != nil {
		return nil, "", err
	}
	note := ""
	if len(shards) != first.Shards {
		note = fmt.Sprintf("%s %s: %d of %d shards given; the figures cover those shards' users only", first.Architecture, first.Strategy, len(shards), first.Shards)
	}
	return &out, note, nil
}

// Summarize recomputes a report's aggregates from its per-user rows (see
// runner.Report.Summarize).
func Summarize(r *runner.Report, resamples int) error {
	return r.Summarize(resamples)
}

func changes(c metrics.Changes) runner.Changes {
	i, u, d := c.Shares()
	return runner.Changes{Improved: c.Improved, Unchanged: c.Unchanged, Degraded: c.Degraded, ImprovedShare: i, UnchangedShare: u, DegradedShare: d}
}

// Select returns the experiment's models whose architecture is in archs
// (all when empty), each restricted to the strategies in strategies (all
// when empty), in the experiment's order. Names match case-insensitively;
// a name that matches nothing is an error.
func (e *Experiment) Select(archs, strategies []string) ([]ModelResult, error) {
	in := func(list []string, s string) bool {
		return len(list) == 0 || slices.ContainsFunc(list, func(x string) bool { return equalFold(x, s) })
	}
	for _, a := range archs {
		if !slices.ContainsFunc(e.Models, func(m ModelResult) bool { return equalFold(m.Architecture, a) }) {
			return nil, fmt.Errorf("%w: no model %q in the result (have %s)", ErrInput, a, joinArchs(e.Models))
		}
	}
	var out []ModelResult
	for _, m := range e.Models {
		if !in(archs, m.Architecture) {
			continue
		}
		sel := m
		sel.Strategies = nil
		for _, r := range m.Strategies {
			if in(strategies, r.Strategy) {
				sel.Strategies = append(sel.Strategies, r)
			}
		}
		for _, s := range strategies {
			if !slices.ContainsFunc(sel.Strategies, func(r *runner.Report) bool { return equalFold(r.Strategy, s) }) {
				return nil, fmt.Errorf("%w: model %s has no strategy %q", ErrInput, m.Architecture, s)
			}
		}
		out = append(out, sel)
	}
	return out, nil
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

func joinArchs(ms []ModelResult) string {
	var b bytes.Buffer
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Architecture)
	}
	return b.String()
}

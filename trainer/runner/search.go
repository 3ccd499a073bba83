package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// SearchFile is the name of the search report inside OutputURI.
const SearchFile = "search-report.json"

// Search defaults used when the spec leaves a field at 0.
const (
	DefaultValidationFraction = 0.2
	DefaultSearchQuantiles    = 3 // low / middle / high CTR, as in the paper's online test
)

// GridFactors scale the soft labels' departure from the identity in the
// default grid: factor f turns SoftPositive's y+ into 1+f*(g/r̄-1) and
// SoftNegative's y- into f*(g-r̄)/(1-r̄). Factor 1 is the soft solution
// itself, whose equivalent CTR is g; the others over- and under-correct.
var GridFactors = []float64{0.5, 0.75, 1, 1.25, 1.5}

// SearchCell is one (y+, y-) of a group's grid and its validation score.
type SearchCell struct {
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
	// Source says where the cell comes from: "identity", "softPositive×f",
	// "softNegative×f" (default grid), or "grid" (the spec's labels).
	Source string `json:"source"`
	AUC    Float  `json:"auc"` // user-level validation AUC; null without scored users or when diverged
	// DivergedUsers of the group whose fine-tuning with these labels
	// diverged: the cell is invalid (null AUC) and never chosen.
	DivergedUsers int `json:"divergedUsers,omitempty"`
}

// SearchGroupReport is one local-CTR group of a search.
type SearchGroupReport struct {
	Min          float64      `json:"min"`
	Max          float64      `json:"max"` // [Min, Max); Max 1 includes 1
	Users        int          `json:"users"`
	ScoredUsers  int          `json:"scoredUsers"`  // with a two-class validation set
	MeanLocalCTR Float        `json:"meanLocalCTR"` // r̄: mean over users of the fit split's local CTR
	Cells        []SearchCell `json:"cells"`
	Chosen       int          `json:"chosen"` // index into Cells
	// AUCs on the validation split of the chosen cell, of the identity
	// (Local), of Auto's per-user labels, and of the global model (Cloud).
	AUC         Float `json:"auc"`
	IdentityAUC Float `json:"identityAUC"`
	AutoAUC     Float `json:"autoAUC"`
	CloudAUC    Float `json:"cloudAUC"`
	// AutoDivergedUsers were rolled back to the Cloud model in AutoAUC.
	AutoDivergedUsers int `json:"autoDivergedUsers,omitempty"`
}

// SearchReport is the full result of a search (the JSON at ReportURI).
type SearchReport struct {
	Name               string               `json:"name,omitempty"`
	Arch               string               `json:"arch"`
	Architecture       string               `json:"architecture"`
	ModelURI           string               `json:"modelURI"`
	ModelDigest        string               `json:"modelDigest"`
	GlobalCTR          float64              `json:"globalCTR"`
	ValidationFraction float64              `json:"validationFraction"`
	MinSamples         int                  `json:"minSamples"`
	Optimization       runspec.Optimization `json:"optimization"`
	Edges              []float64            `json:"edges"`
	SkippedUsers       int                  `json:"skippedUsers"` // too few fit samples or no validation sample
	Groups             []SearchGroupReport  `json:"groups"`
	// Table is the chosen Hard table, as a finetune spec's correction takes it.
	Table   []runspec.LabelGroup `json:"table"`
	Summary runspec.SearchStats  `json:"summary"`
	Seconds float64              `json:"seconds"`
}

// searchUser is an eligible user of a search.
type searchUser struct {
	raw        string
	key        uint64
	ctr        float64 // local CTR of the fit split
	group      int
	fit, valid []data.Sample
}

// search grid-searches the Hard strategy's labels per local-CTR group; see
// SearchReport. Only the train split is used: its last ValidationFraction
// of each user's samples validate, the rest fit.
func search(ctx context.Context, spec *runspec.Spec, shard int, lg *logger, opts options) (*runspec.Summary, error) {
	start := time.Now()
	s := spec.Search
	if spec.Shards != 1 || shard != 0 {
		return nil, badInput("a search runs as one shard, got shard %d of %d", shard, spec.Shards)
	}
	g, err := checkGlobalCTR(spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	vf := s.ValidationFraction
	if vf == 0 {
		vf = DefaultValidationFraction
	}
	if !(vf > 0 && vf < 1) {
		return nil, badInput("search validationFraction %v is outside (0, 1)", vf)
	}
	if len(s.Boundaries) > 0 && s.Quantiles > 0 {
		return nil, badInput("search takes boundaries or quantiles, not both")
	}
	if s.Quantiles < 0 {
		return nil, badInput("search quantiles %d is negative", s.Quantiles)
	}
	for _, v := range slices.Concat(s.PositiveLabels, s.NegativeLabels, s.Boundaries) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, badInput("search labels and boundaries must be finite, got %v", v)
		}
	}
	minSamples := max(s.MinSamples, 1)
	if _, err := newOptimizer(spec.Optimization); err != nil {
		return nil, err
	}
	m, digest, err := LoadModel(ctx, spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	sp, err := modelData(ctx, m, spec.Dataset, nil, lg) // the test split is never touched
	if err != nil {
		return nil, err
	}
	train := sp.train
	fit, valid, err := data.SplitValidation(train, 1-vf)
	if err != nil {
		return nil, badInput("search: %w", err)
	}
	users, skipped := searchUsers(fit, valid, minSamples)
	if len(users) == 0 {
		return nil, badInput("search: no user has %d fit samples and a validation sample", minSamples)
	}
	edges, err := searchEdges(s, users)
	if err != nil {
		return nil, err
	}
	table, err := correction.GroupsFromEdges(edges)
	if err != nil {
		return nil, badInput("search groups: %w", err)
	}
	rep := &SearchReport{
		Name: spec.Name, Arch: runtime.GOARCH, Architecture: m.Config().Arch, ModelURI: spec.GlobalModel.URI, ModelDigest: digest,
		GlobalCTR: g, ValidationFraction: vf, MinSamples: minSamples, Optimization: spec.Optimization, Edges: edges,
		SkippedUsers: skipped, Groups: make([]SearchGroupReport, len(table)),
	}
	// Group membership and r̄.
	sums := make([]float64, len(table))
	for i := range users {
		u := &users[i]
		u.group = slices.IndexFunc(table, func(gr correction.Group) bool { return InCTRRange(u.ctr, gr.Min, gr.Max) })
		sums[u.group] += u.ctr
		rep.Groups[u.group].Users++
	}
	for k, gr := range table {
		gp := &rep.Groups[k]
		gp.Min, gp.Max = gr.Min, gr.Max
		gp.MeanLocalCTR = Float(nan)
		if gp.Users > 0 {
			rbar := sums[k] / float64(gp.Users)
			gp.MeanLocalCTR = Float(rbar)
			gp.Cells = searchGrid(g, rbar, s.PositiveLabels, s.NegativeLabels)
		} else {
			gp.Cells = searchGrid(g, nan, s.PositiveLabels, s.NegativeLabels)
		}
	}
	// One task per user: its group's cells, then Auto's labels (last arm).
	tasks := make([]userTask, len(users))
	for i, u := range users {
		cells := rep.Groups[u.group].Cells
		arms := make([]correction.Labels, 0, len(cells)+1)
		for _, c := range cells {
			arms = append(arms, correction.Labels{Positive: c.Positive, Negative: c.Negative})
		}
		auto, _, err := correction.AutoLabels(g, u.ctr)
		if err != nil {
			return nil, badInput("user %q: %w", u.raw, err)
		}
		tasks[i] = userTask{raw: u.raw, key: u.key, train: u.fit, test: u.valid, arms: append(arms, auto)}
	}
	lg.printf("search: %d users in %d groups (edges %v), %d skipped; g = %.4f", len(users), len(table), edges, skipped, g)
	out, err := runPerUser(ctx, m, tasks, spec.Optimization, opts.workers, lg, "grid search", nil)
	if err != nil {
		return nil, err
	}
	if err := scoreGroups(rep, users, out); err != nil {
		return nil, err
	}
	for k := range rep.Groups {
		gp := &rep.Groups[k]
		c := gp.Cells[gp.Chosen]
		rep.Table = append(rep.Table, runspec.LabelGroup{Min: gp.Min, Max: gp.Max, Positive: c.Positive, Negative: c.Negative})
		lg.printf("group [%g, %g): %d users, r̄ %.3f: chose (%.4g, %.4g) %s AUC %.5f; identity %.5f, Auto %.5f, Cloud %.5f",
			gp.Min, gp.Max, gp.Users, float64(gp.MeanLocalCTR), c.Positive, c.Negative, c.Source, float64(gp.AUC), float64(gp.IdentityAUC), float64(gp.AutoAUC), float64(gp.CloudAUC))
		for _, cell := range gp.Cells {
			if cell.DivergedUsers > 0 {
				lg.printf("group [%g, %g): cell (%.4g, %.4g) %s diverged for %d users: invalid", gp.Min, gp.Max, cell.Positive, cell.Negative, cell.Source, cell.DivergedUsers)
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	uri := storage.Join(spec.OutputURI, SearchFile)
	sum := &runspec.Summary{Kind: spec.Kind, Shard: shard, Arch: runtime.GOARCH, ReportURI: uri, Search: searchStats(rep, true)}
	if b, err := sum.Encode(); err != nil || len(b) > runspec.MaxSummaryBytes {
		sum.Search = searchStats(rep, false) // the report keeps the whole surface
	}
	rep.Summary = *searchStats(rep, true)
	if _, err := writeJSON(ctx, uri, rep); err != nil {
		return nil, err
	}
	return sum, nil
}

// searchUsers are the users with at least minSamples fit samples and a
// validation sample, in user order, and the count of the others.
func searchUsers(fit, valid *data.Dataset, minSamples int) ([]searchUser, int) {
	validRange := make(map[int32]data.Range)
	for _, r := range data.UserRanges(valid) {
		validRange[r.User] = r
	}
	var users []searchUser
	skipped := 0
	for _, r := range data.UserRanges(fit) {
		v, ok := validRange[r.User]
		if r.Len() < minSamples || !ok || v.Len() == 0 {
			skipped++
			continue
		}
		f := fit.Samples[r.Start:r.End]
		pos := 0
		for i := range f {
			if f[i].Label == 1 {
				pos++
			}
		}
		raw := fit.Vocab.Users.Name(r.User)
		users = append(users, searchUser{raw: raw, key: UserKey(raw), ctr: float64(pos) / float64(len(f)), fit: f, valid: valid.Samples[v.Start:v.End]})
	}
	return users, skipped
}

// searchEdges are the group edges: 0, the spec's boundaries, 1; or the
// quantiles k/q of the users' local CTRs (equal-user groups), dropping
// quantiles that coincide or fall on 0 or 1 (many users at r = 0 would
// otherwise make empty groups).
func searchEdges(s *runspec.Search, users []searchUser) ([]float64, error) {
	if len(s.Boundaries) > 0 {
		edges := append([]float64{0}, s.Boundaries...)
		edges = append(edges, 1)
		for i := 1; i < len(edges); i++ {
			if !(edges[i] > edges[i-1]) {
				return nil, badInput("search boundaries %v must be strictly increasing inside (0, 1)", s.Boundaries)
			}
		}
		return edges, nil
	}
	q := s.Quantiles
	if q == 0 {
		q = DefaultSearchQuantiles
	}
	st := make([]data.UserStats, len(users))
	for i, u := range users {
		st[i] = data.UserStats{LocalCTR: u.ctr}
	}
	qs := make([]float64, 0, q-1)
	for k := 1; k < q; k++ {
		qs = append(qs, float64(k)/float64(q))
	}
	edges := []float64{0}
	if len(qs) > 0 {
		vals, err := data.LocalCTRQuantiles(st, qs)
		if err != nil {
			return nil, badInput("search quantiles: %w", err)
		}
		for _, v := range vals {
			if v > edges[len(edges)-1] && v < 1 {
				edges = append(edges, v)
			}
		}
	}
	return append(edges, 1), nil
}

// searchGrid is a group's grid. With labels from the spec: the identity,
// then the cross product of positives (default {1}) and negatives (default
// {0}). Without: the identity, then SoftPositive and SoftNegative at the
// group's mean local CTR r̄ scaled by GridFactors; a side whose soft label
// is undefined (r̄ = 0 for SoftPositive, r̄ = 1 for SoftNegative, or r̄ NaN
// for an empty group) is left out, and so are cells with a label beyond
// runspec.MaxLabelMagnitude (SoftPositive at a tiny r̄: a Hard table cannot
// hold them, and they diverge at common learning rates). Duplicates are
// dropped (at r̄ = g every soft cell is the identity).
func searchGrid(g, rbar float64, pos, neg []float64) []SearchCell {
	cells := []SearchCell{{Positive: 1, Negative: 0, Source: "identity"}}
	add := func(c SearchCell) {
		for _, o := range cells {
			if o.Positive == c.Positive && o.Negative == c.Negative {
				return
			}
		}
		cells = append(cells, c)
	}
	if len(pos) > 0 || len(neg) > 0 {
		if len(pos) == 0 {
			pos = []float64{1}
		}
		if len(neg) == 0 {
			neg = []float64{0}
		}
		for _, p := range pos {
			for _, n := range neg {
				add(SearchCell{Positive: p, Negative: n, Source: "grid"})
			}
		}
		return cells
	}
	if rbar > 0 {
		sp := g / rbar
		for _, f := range GridFactors {
			if y := 1 + f*(sp-1); math.Abs(y) <= runspec.MaxLabelMagnitude {
				add(SearchCell{Positive: y, Negative: 0, Source: "softPositive×" + strconv.FormatFloat(f, 'g', -1, 64)})
			}
		}
	}
	if rbar < 1 {
		sn := (g - rbar) / (1 - rbar)
		for _, f := range GridFactors {
			if y := f * sn; math.Abs(y) <= runspec.MaxLabelMagnitude {
				add(SearchCell{Positive: 1, Negative: y, Source: "softNegative×" + strconv.FormatFloat(f, 'g', -1, 64)})
			}
		}
	}
	return cells
}

// choiceTolerance: AUCs closer than this count as tied (float noise of
// sums over users, far below a real change of any user's ranking).
const choiceTolerance = 1e-12

// scoreGroups sums each cell's weighted validation AUC over the group's
// users (in user order) and chooses each group's cell: the highest AUC,
// ties going to the identity, then to the earlier cell. A cell under which
// any user of the group diverged (scored or not) is invalid: null AUC,
// never chosen. A group whose every cell diverged is bad input (the
// fine-tuning settings diverge whatever the labels).
func scoreGroups(rep *SearchReport, users []searchUser, out []userOutcome) error {
	type acc struct{ sum, w float64 }
	cellAcc := make([][]acc, len(rep.Groups))
	autoAcc := make([]acc, len(rep.Groups))
	cloudAcc := make([]acc, len(rep.Groups))
	firstReason := make([]string, len(rep.Groups))
	for k := range rep.Groups {
		cellAcc[k] = make([]acc, len(rep.Groups[k].Cells))
	}
	for i, u := range users {
		o := out[i]
		k := u.group
		for c := range rep.Groups[k].Cells {
			if o.diverged[c] != "" {
				rep.Groups[k].Cells[c].DivergedUsers++
				if firstReason[k] == "" {
					firstReason[k] = fmt.Sprintf("user %q, %s", u.raw, o.diverged[c])
				}
			}
		}
		if o.diverged[len(o.arms)-1] != "" {
			rep.Groups[k].AutoDivergedUsers++
		}
		if math.IsNaN(o.cloud) {
			continue // single-class validation set: no AUC for any cell
		}
		w := float64(len(u.valid))
		rep.Groups[k].ScoredUsers++
		for c := range rep.Groups[k].Cells {
			cellAcc[k][c].sum += w * o.arms[c]
			cellAcc[k][c].w += w
		}
		auto := o.arms[len(o.arms)-1]
		autoAcc[k].sum += w * auto
		autoAcc[k].w += w
		cloudAcc[k].sum += w * o.cloud
		cloudAcc[k].w += w
	}
	value := func(a acc) Float {
		if a.w == 0 {
			return Float(nan)
		}
		return Float(a.sum / a.w)
	}
	for k := range rep.Groups {
		gp := &rep.Groups[k]
		best := -1
		for c := range gp.Cells {
			cell := &gp.Cells[c]
			cell.AUC = value(cellAcc[k][c])
			if cell.DivergedUsers > 0 {
				cell.AUC = Float(nan)
				continue
			}
			// The first valid cell is the default (the identity when it is
			// valid); a later one must beat it by more than the tolerance.
			if best < 0 || cell.AUC.Defined() && (!gp.Cells[best].AUC.Defined() || float64(cell.AUC) > float64(gp.Cells[best].AUC)+choiceTolerance) {
				best = c
			}
		}
		if best < 0 {
			return badInput("search group [%g, %g): fine-tuning diverged under every cell of the grid (first: %s): lower the learning rate",
				gp.Min, gp.Max, firstReason[k])
		}
		gp.AutoAUC, gp.CloudAUC = value(autoAcc[k]), value(cloudAcc[k])
		gp.IdentityAUC = gp.Cells[0].AUC // the identity is always cell 0
		gp.Chosen = best
		gp.AUC = gp.Cells[best].AUC
	}
	return nil
}

// zeroIfNaN is for summary fields, which must encode as JSON numbers
// (encoding/json rejects NaN): an undefined AUC becomes 0.
func zeroIfNaN(f Float) float64 {
	if !f.Defined() {
		return 0
	}
	return float64(f)
}

// searchStats is the summary's view of the report; cells only when
// withCells. Undefined AUCs (groups without scored users) are 0.
func searchStats(rep *SearchReport, withCells bool) *runspec.SearchStats {
	st := &runspec.SearchStats{}
	for _, gp := range rep.Groups {
		c := gp.Cells[gp.Chosen]
		sg := runspec.SearchGroup{
			Min: gp.Min, Max: gp.Max, Users: int64(gp.Users), Positive: c.Positive, Negative: c.Negative,
			AUC: zeroIfNaN(gp.AUC), IdentityAUC: zeroIfNaN(gp.IdentityAUC),
		}
		if withCells {
			for _, cell := range gp.Cells {
				sg.Cells = append(sg.Cells, [3]float64{cell.Positive, cell.Negative, zeroIfNaN(cell.AUC)})
				if cell.DivergedUsers > 0 {
					sg.Diverged = append(sg.Diverged, [2]float64{cell.Positive, cell.Negative})
				}
			}
		}
		st.Groups = append(st.Groups, sg)
	}
	return st
}

// DecodeSearchReport parses a search report.
func DecodeSearchReport(b []byte) (*SearchReport, error) {
	var r SearchReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding search report: %w", err)
	}
	return &r, nil
}

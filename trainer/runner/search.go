package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/correction"
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// SearchReportFile is the name of a search shard's report inside OutputURI.
func SearchReportFile(shard int) string { return fmt.Sprintf("search-report-shard-%d.json", shard) }

// SearchCell is one (y+, y-) of a group's grid and its validation score on
// this shard's users.
type SearchCell struct {
	runspec.GridCell
	// AUC is the user-level validation AUC of the shard's scored users,
	// each user's AUC averaged over the seeds first; null without scored
	// users or when the cell diverged.
	AUC Float `json:"auc"`
	// DivergedUsers whose fine-tuning with these labels diverged under
	// some seed: the cell is invalid and never chosen.
	DivergedUsers int `json:"divergedUsers,omitempty"`
}

// SearchGroupReport is one local-CTR group of a search shard.
type SearchGroupReport struct {
	Min          float64      `json:"min"`
	Max          float64      `json:"max"`      // [Min, Max); Max 1 includes 1
	AllUsers     int          `json:"allUsers"` // of every shard
	Users        int          `json:"users"`    // of this shard
	ScoredUsers  int          `json:"scoredUsers"`
	MeanLocalCTR Float        `json:"meanLocalCTR"` // r̄ over AllUsers, of the fit rows
	Cells        []SearchCell `json:"cells"`        // cell 0 is the identity (Local)
	// AutoAUC and CloudAUC are this shard's validation AUCs of Auto's
	// per-user labels and of the global model; AutoDivergedUsers were
	// rolled back to the Cloud model in AutoAUC.
	AutoAUC           Float `json:"autoAUC"`
	CloudAUC          Float `json:"cloudAUC"`
	AutoDivergedUsers int   `json:"autoDivergedUsers,omitempty"`
}

// SearchReport is the full result of one search shard (the JSON at
// Summary.ReportURI).
type SearchReport struct {
	Name            string               `json:"name,omitempty"`
	Shard           int                  `json:"shard"`
	Shards          int                  `json:"shards"`
	Arch            string               `json:"arch"`
	Architecture    string               `json:"architecture"`
	ModelURI        string               `json:"modelURI"`
	ModelDigest     string               `json:"modelDigest"`
	GlobalCTR       float64              `json:"globalCTR"`
	HoldoutFraction float64              `json:"holdoutFraction"`
	MinSamples      int                  `json:"minSamples"`
	Seeds           []uint64             `json:"seeds"`
	Optimization    runspec.Optimization `json:"optimization"`
	Edges           []float64            `json:"edges"`
	SkippedUsers    int                  `json:"skippedUsers"` // of this shard: too few fit rows or no held-out row
	Groups          []SearchGroupReport  `json:"groups"`
	// Result is the choice computed from this shard's sums alone: the
	// search's result when Shards is 1 (a sharded search's result is
	// runspec.CombineSearch of every shard's summary). Table is its table.
	Result  *runspec.SearchResult `json:"result"`
	Table   []runspec.LabelGroup  `json:"table"`
	Summary runspec.SearchStats   `json:"summary"`
	Seconds float64               `json:"seconds"`
}

// searchUser is an eligible user of a search.
type searchUser struct {
	raw        string
	key        uint64
	shard      int
	ctr        float64 // local CTR of the fit rows
	group      int
	fit, valid []data.Sample
}

// search grid-searches the Hard strategy's labels per local-CTR group on
// this shard's users; see the protocol in runspec/search.go. Only the
// train split is used: the rows the global model held out validate, the
// others fit.
func search(ctx context.Context, spec *runspec.Spec, shard int, lg *logger, opts options) (*runspec.Summary, error) {
	start := time.Now()
	s := spec.Search
	if shard < 0 || shard >= spec.Shards {
		return nil, badInput("search shard %d is outside [0, %d)", shard, spec.Shards)
	}
	g, err := checkGlobalCTR(spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	h := spec.GlobalModel.HoldoutFraction
	minSamples := max(s.MinSamples, 1)
	if _, err := newOptimizer(spec.Optimization); err != nil {
		return nil, err
	}
	m, digest, err := LoadModel(ctx, spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	// Every shard reads every user: the groups and their grids depend on
	// all of them. The test split is never touched.
	sp, err := modelData(ctx, m, spec.Dataset, nil, lg)
	if err != nil {
		return nil, err
	}
	fit, valid, err := holdOut(sp.train, h)
	if err != nil {
		return nil, err
	}
	if spec.Dataset.TestHistories == runspec.TestHistoriesTrainRows {
		data.FreezeHistories(valid) // held-out rows see the fit rows only, as test rows see the train rows
	}
	if want := spec.GlobalModel.HoldoutSamples; want > 0 && int64(len(valid.Samples)) != want {
		return nil, badInput("the search's train split holds out %d rows, the global model held out %d: not the data the model was pretrained on, so the held-out rows may have been trained on",
			len(valid.Samples), want)
	}
	users, skipped := searchUsers(fit, valid, minSamples, spec.Shards)
	if len(users) == 0 {
		return nil, badInput("search: no user has %d fit rows and a held-out row", minSamples)
	}
	edges, err := searchEdges(s, users)
	if err != nil {
		return nil, err
	}
	table, err := correction.GroupsFromEdges(edges)
	if err != nil {
		return nil, badInput("search groups: %w", err)
	}
	seeds := spec.SearchSeeds()
	rep := &SearchReport{
		Name: spec.Name, Shard: shard, Shards: spec.Shards, Arch: runtime.GOARCH, Architecture: m.Config().Arch, ModelURI: spec.GlobalModel.URI, ModelDigest: digest,
		GlobalCTR: g, HoldoutFraction: h, MinSamples: minSamples, Seeds: seeds, Optimization: spec.Optimization, Edges: edges,
		SkippedUsers: skipped[shard], Groups: make([]SearchGroupReport, len(table)),
	}
	st := &runspec.SearchStats{GlobalCTR: g, HoldoutFraction: h, Seeds: len(seeds), PositiveLabels: s.PositiveLabels, NegativeLabels: s.NegativeLabels,
		SkippedUsers: int64(skipped[shard]), Groups: make([]runspec.SearchGroup, len(table))}
	// Group membership and r̄ over every shard's users.
	sums := make([]float64, len(table))
	var mine []searchUser
	for i := range users {
		u := &users[i]
		u.group = slices.IndexFunc(table, func(gr correction.Group) bool { return InCTRRange(u.ctr, gr.Min, gr.Max) })
		sums[u.group] += u.ctr
		st.Groups[u.group].AllUsers++
		if u.shard == shard {
			mine = append(mine, *u)
		}
	}
	for k, gr := range table {
		sg := &st.Groups[k]
		sg.Min, sg.Max = gr.Min, gr.Max
		if sg.AllUsers > 0 {
			sg.MeanLocalCTR = sums[k] / float64(sg.AllUsers)
		}
		grid := st.Grid(k)
		sg.NewCells(len(grid))
		gp := &rep.Groups[k]
		gp.Min, gp.Max, gp.AllUsers, gp.MeanLocalCTR = gr.Min, gr.Max, int(sg.AllUsers), Float(nan)
		if sg.AllUsers > 0 {
			gp.MeanLocalCTR = Float(sg.MeanLocalCTR)
		}
		for _, c := range grid {
			gp.Cells = append(gp.Cells, SearchCell{GridCell: c})
		}
	}
	lg.printf("search shard %d of %d: %d of %d users in %d groups (edges %v), %d skipped; g = %.4f; holdout %g; %d seeds",
		shard, spec.Shards, len(mine), len(users), len(table), edges, skipped[shard], g, h, len(seeds))
	scores, err := scoreSeeds(ctx, m, rep, mine, g, seeds, spec.Optimization, opts, lg)
	if err != nil {
		return nil, err
	}
	if err := fillSearch(rep, st, mine, scores); err != nil {
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	st.Seconds = rep.Seconds
	uri := storage.Join(spec.OutputURI, SearchReportFile(shard))
	sum := &runspec.Summary{Kind: spec.Kind, Shard: shard, Arch: runtime.GOARCH, ReportURI: uri, Search: st, DatasetDigest: sp.digest}
	if _, err := sum.Encode(); err != nil {
		return nil, fmt.Errorf("search summary: %w", err)
	}
	res, err := runspec.CombineSearch([]*runspec.Summary{sum})
	if err != nil {
		return nil, fmt.Errorf("search shard %d: %w", shard, err)
	}
	rep.Result, rep.Table, rep.Summary = res, res.Table, *st
	for _, gr := range res.Groups {
		lg.printf("group [%g, %g): %d users (%d scored) on this shard: %s: %s", gr.Min, gr.Max, gr.Users, gr.ScoredUsers, gr.Reason, gr.Message)
	}
	reportDigest, err := writeJSON(ctx, uri, rep)
	if err != nil {
		return nil, err
	}
	sum.ReportDigest = reportDigest
	return sum, nil
}

// userScores are one user's validation AUCs summed over the seeds (per
// arm: the group's cells, then Auto), the Cloud AUC (NaN for a
// single-class validation set) and per arm whether any seed diverged.
type userScores struct {
	sum      []float64
	cloud    float64
	diverged []bool
}

// scoreSeeds fine-tunes each user under every cell of its group's grid and
// under Auto's labels (the last arm), once per seed, and sums the AUCs.
func scoreSeeds(ctx context.Context, m *model.Model, rep *SearchReport, users []searchUser, g float64, seeds []uint64,
	o runspec.Optimization, opts options, lg *logger) ([]userScores, error) {
	tasks := make([]userTask, len(users))
	scores := make([]userScores, len(users))
	var perSeed int64 // user fine-tunings of one seed
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
		tasks[i] = userTask{raw: u.raw, key: u.key, train: u.fit, test: u.valid, arms: append(arms, auto), keep: -1, units: int64(len(arms) + 1)}
		scores[i] = userScores{sum: make([]float64, len(arms)+1), diverged: make([]bool, len(arms)+1)}
		perSeed += tasks[i].units
	}
	lg.tr.Begin("searching", runspec.UnitCells, perSeed*int64(len(seeds)))
	for _, seed := range seeds {
		so := o
		so.Seed = seed
		out, err := runPerUser(ctx, m, tasks, so, opts.workers, lg, fmt.Sprintf("grid search (seed %d)", seed), nil)
		if err != nil {
			return nil, err
		}
		for i, uo := range out {
			sc := &scores[i]
			sc.cloud = uo.cloud
			for a, v := range uo.arms {
				sc.sum[a] += v
				sc.diverged[a] = sc.diverged[a] || uo.diverged[a] != ""
			}
		}
	}
	return scores, nil
}

// fillSearch puts each user's seed-averaged AUCs into the summary's sums
// (runspec.SearchGroup.Observe) and the report's per-cell AUCs, in user
// order. A user whose validation set has one class counts in Users only.
func fillSearch(rep *SearchReport, st *runspec.SearchStats, users []searchUser, scores []userScores) error {
	type acc struct{ sum, w float64 }
	cellAcc := make([][]acc, len(rep.Groups))
	autoAcc := make([]acc, len(rep.Groups))
	cloudAcc := make([]acc, len(rep.Groups))
	for k := range rep.Groups {
		cellAcc[k] = make([]acc, len(rep.Groups[k].Cells))
	}
	nSeeds := float64(st.Seeds)
	for i, u := range users {
		k, sc := u.group, scores[i]
		gp, sg := &rep.Groups[k], &st.Groups[k]
		nCells := len(gp.Cells)
		gp.Users++
		sg.Users++
		for c := range nCells {
			if sc.diverged[c] {
				gp.Cells[c].DivergedUsers++
				sg.Cells[c].Diverged++
			}
		}
		if sc.diverged[nCells] {
			gp.AutoDivergedUsers++
			sg.AutoDiverged++
		}
		if math.IsNaN(sc.cloud) {
			continue // single-class validation set: no AUC for any arm
		}
		avg := make([]float64, nCells+1)
		for a := range avg {
			avg[a] = sc.sum[a] / nSeeds
		}
		n := len(u.valid)
		if err := sg.Observe(int64(n), avg[nCells], avg[:nCells]); err != nil {
			return fmt.Errorf("user %q: %w", u.raw, err)
		}
		gp.ScoredUsers++
		w := float64(n)
		for c := range nCells {
			cellAcc[k][c].sum += w * avg[c]
			cellAcc[k][c].w += w
		}
		autoAcc[k].sum += w * avg[nCells]
		autoAcc[k].w += w
		cloudAcc[k].sum += w * sc.cloud
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
		for c := range gp.Cells {
			gp.Cells[c].AUC = value(cellAcc[k][c])
			if gp.Cells[c].DivergedUsers > 0 {
				gp.Cells[c].AUC = Float(nan)
			}
		}
		gp.AutoAUC, gp.CloudAUC = value(autoAcc[k]), value(cloudAcc[k])
	}
	return nil
}

// searchUsers are the users with at least minSamples fit rows and a
// held-out row, in user order, each with its shard, and the count of the
// others per shard.
func searchUsers(fit, valid *data.Dataset, minSamples, shards int) ([]searchUser, []int) {
	validRange := make(map[int32]data.Range)
	for _, r := range data.UserRanges(valid) {
		validRange[r.User] = r
	}
	var users []searchUser
	skipped := make([]int, shards)
	for _, r := range data.UserRanges(fit) {
		raw := fit.Vocab.Users.Name(r.User)
		shard := ShardOf(raw, shards)
		v, ok := validRange[r.User]
		if r.Len() < minSamples || !ok || v.Len() == 0 {
			skipped[shard]++
			continue
		}
		f := fit.Samples[r.Start:r.End]
		pos := 0
		for i := range f {
			if f[i].Label == 1 {
				pos++
			}
		}
		users = append(users, searchUser{raw: raw, key: UserKey(raw), shard: shard, ctr: float64(pos) / float64(len(f)), fit: f, valid: valid.Samples[v.Start:v.End]})
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
		q = runspec.DefaultSearchQuantiles
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

// DecodeSearchReport parses a search report.
func DecodeSearchReport(b []byte) (*SearchReport, error) {
	var r SearchReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding search report: %w", err)
	}
	return &r, nil
}

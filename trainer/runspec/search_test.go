package runspec

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func searchSpec() *Spec {
	return &Spec{
		Version: Version, Kind: KindSearch, OutputURI: "mem://out", Shards: 2,
		Dataset:      Dataset{Format: "Synthetic", HistoryLength: 5},
		GlobalModel:  &ModelArtifact{URI: "mem://m", GlobalCTR: 0.3, HoldoutFraction: 0.2, HoldoutSamples: 100},
		Optimization: Optimization{Optimizer: "SGD", LearningRate: 0.1, Epochs: 1, BatchSize: 32},
		Search:       &Search{Seeds: []int64{0, 1, 2}},
	}
}

func TestValidateSearch(t *testing.T) {
	cases := []struct {
		name   string
		modify func(s *Spec)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"no holdout", func(s *Spec) { s.GlobalModel.HoldoutFraction = 0 }, "has no holdout"},
		{"holdout too large", func(s *Spec) { s.GlobalModel.HoldoutFraction = 0.7 }, "holdoutFraction 0.7 is outside"},
		{"validation fraction differs", func(s *Spec) { s.Search.ValidationFraction = 0.25 }, "differs from the global model's holdoutFraction"},
		{"validation fraction equal", func(s *Spec) { s.Search.ValidationFraction = 0.2 }, ""},
		{"dataset holdout differs", func(s *Spec) { s.Dataset.Split.HoldoutFraction = 0.1 }, "dataset split holdoutFraction 0.1 differs"},
		{"repeated seed", func(s *Spec) { s.Search.Seeds = []int64{1, 2, 1} }, "seed 1 is repeated"},
		{"too many seeds", func(s *Spec) {
			s.Search.Seeds = nil
			for i := range 17 {
				s.Search.Seeds = append(s.Search.Seeds, int64(i))
			}
		}, "17 seeds, more than 16"},
		{"too many groups", func(s *Spec) { s.Search.Quantiles = 7 }, "7 groups, more than 6"},
		{"six default groups", func(s *Spec) { s.Search.Quantiles = 6 }, ""},
		{"grid too large", func(s *Spec) {
			s.Search.PositiveLabels = []float64{1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6}
			s.Search.NegativeLabels = []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5}
		}, "43 cells per group"},
		{"too many cells", func(s *Spec) {
			s.Search.Quantiles = 3
			s.Search.PositiveLabels = []float64{1, 1.1, 1.2, 1.3, 1.4}
			s.Search.NegativeLabels = []float64{0, 0.1, 0.2, 0.3, 0.4}
		}, "3 groups x 26 cells"},
		{"boundaries and quantiles", func(s *Spec) { s.Search.Boundaries, s.Search.Quantiles = []float64{0.5}, 2 }, "not both"},
		{"boundaries not increasing", func(s *Spec) { s.Search.Boundaries = []float64{0.5, 0.4} }, "strictly increasing"},
		{"auto group needs no labels", func(s *Spec) {
			s.Correction = &Correction{Strategy: "Hard", Groups: []LabelGroup{{Min: 0, Max: 1, Positive: math.Inf(1), Auto: true}}}
		}, ""},
		{"test histories", func(s *Spec) { s.Dataset.TestHistories = TestHistoriesTrainRows }, ""},
		{"unknown test histories", func(s *Spec) { s.Dataset.TestHistories = "Future" }, "testHistories \"Future\""},
		{"init std", func(s *Spec) { s.Model = &Model{Architecture: "LR", EmbeddingInitStd: 2} }, "embeddingInitStd 2 is outside"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := searchSpec()
			tc.modify(s)
			err := s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestHoldoutCount(t *testing.T) {
	cases := []struct {
		n    int
		f    float64
		want int
	}{{0, 0.2, 0}, {4, 0.2, 0}, {5, 0.2, 1}, {9, 0.2, 1}, {10, 0.2, 2}, {100, 0.29, 29}, {7, 0, 0}, {3, 0.5, 1}}
	for _, c := range cases {
		if got := HoldoutCount(c.n, c.f); got != c.want {
			t.Errorf("HoldoutCount(%d, %v) = %d, want %d", c.n, c.f, got, c.want)
		}
	}
}

func TestSearchGroupPackRoundTrip(t *testing.T) {
	st := randomSearch(3, 0, 1, nil)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back SearchStats
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*st, back); diff != "" {
		t.Errorf("round trip (-sent +received):\n%s", diff)
	}
}

// TestSearchSummaryWorstCaseFits fills the largest grid allowed with sums of
// a huge shard and checks the summary fits a termination
// message.
func TestSearchSummaryWorstCaseFits(t *testing.T) {
	st := &SearchStats{GlobalCTR: 0.123456789, HoldoutFraction: 0.2, Seeds: MaxSearchSeeds, SkippedUsers: 1 << 26, Seconds: 123456.789}
	for range MaxSearchGroups {
		st.PositiveLabels = append(st.PositiveLabels, 1.23456789012345)
	}
	st.NegativeLabels = []float64{0.123456789012345}
	for k := range MaxSearchGroups {
		g := SearchGroup{Min: 0.123456789012345 * float64(k), Max: 0.98765432109876, MeanLocalCTR: 0.123456789012345, AllUsers: 1 << 26, Users: 1 << 26, AutoDiverged: 1 << 26}
		// A shard of 2^26 users and 2^28 validation rows (all of
		// MovieLens-20M is 2^24.3 rows): |n*d| and n*d² sum to at most
		// 2^28 rows * 2^20 fixed-point units.
		big := PairedSums{Users: 1 << 26, Weight: 1 << 28, Weight2: 1 << 50}
		for range MaxSearchCells / MaxSearchGroups {
			a, l := big, big
			a.Sum, a.SumSq, l.SumSq = -(1 << 48), 1<<48, 1<<48
			l.Sum = a.Sum - (-(1 << 48))
			g.Cells = append(g.Cells, CellSums{VsAuto: a, VsLocal: l, Diverged: 1 << 26})
		}
		g.Cells[0].VsLocal.Sum = 0
		st.Groups = append(st.Groups, g)
	}
	sum := &Summary{Kind: KindSearch, Shard: 123, Arch: "amd64", ReportURI: "s3://a-bucket-name/some/long/prefix/runs/abcdef0123456789/search-report-shard-123.json",
		Search: st, DatasetDigest: "sha256:" + strings.Repeat("f", 64), ReportDigest: "sha256:" + strings.Repeat("e", 64), PeakRSSBytes: 1 << 40, CgroupPeakBytes: 1 << 40}
	b, err := sum.Encode()
	if err != nil {
		b, _ := json.Marshal(sum)
		t.Fatalf("worst-case search summary does not fit: %v\n%s", err, b)
	}
	t.Logf("worst-case search summary: %d bytes", len(b))
}

// randomSearch is a shard's statistics for a search of 3 groups with the
// default grid, users drawn at random; a user belongs to the shard when
// its index mod shards == shard. lift, when set, adds lift[k][c] to cell c
// of group k's AUC.
func randomSearch(users int, shard, shards int, lift [][]float64) *SearchStats {
	st := &SearchStats{GlobalCTR: 0.3, HoldoutFraction: 0.2, Seeds: 2}
	edges := []float64{0, 0.2, 0.4, 1}
	rbar := []float64{0.1, 0.25, 0.6}
	for k := range 3 {
		st.Groups = append(st.Groups, SearchGroup{Min: edges[k], Max: edges[k+1], MeanLocalCTR: rbar[k], AllUsers: int64(users)})
	}
	for k := range st.Groups {
		st.Groups[k].NewCells(len(st.Grid(k)))
	}
	rng := rand.New(rand.NewPCG(42, 9))
	for u := range users * 3 {
		k := u % 3
		g := &st.Groups[k]
		n := 5 + rng.Int64N(40)
		auto := 0.6 + 0.1*rng.Float64()
		cells := make([]float64, len(g.Cells))
		for c := range cells {
			cells[c] = auto - 0.01 + 0.02*rng.Float64()
			if lift != nil {
				cells[c] += lift[k][c]
			}
		}
		if u%shards != shard {
			continue
		}
		g.Users++
		if err := g.Observe(n, auto, cells); err != nil {
			panic(err)
		}
	}
	return st
}

func TestCombineSearchShardedEqualsUnsharded(t *testing.T) {
	lift := make([][]float64, 3)
	for k := range lift {
		lift[k] = make([]float64, 11)
	}
	lift[1][4] = 0.02
	one, err := CombineSearch([]*Summary{{Kind: KindSearch, Search: randomSearch(200, 0, 1, lift)}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []*Summary
	for sh := 3; sh >= 0; sh-- {
		parts = append(parts, &Summary{Kind: KindSearch, Shard: sh, Search: randomSearch(200, sh, 4, lift)})
	}
	four, err := CombineSearch(parts)
	if err != nil {
		t.Fatal(err)
	}
	four.Shards = 1
	if diff := cmp.Diff(one, four); diff != "" {
		t.Errorf("sharded and unsharded searches differ (-1 shard +4 shards):\n%s", diff)
	}
	// Round trip through the termination message too.
	b, err := parts[0].Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSummary(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parts[0], back); diff != "" {
		t.Errorf("summary round trip (-sent +received):\n%s", diff)
	}
}

func TestCombineSearchChoice(t *testing.T) {
	lift := make([][]float64, 3)
	for k := range lift {
		lift[k] = make([]float64, 11)
	}
	lift[0][3] = 0.03 // group 0: cell 3 clearly best
	for c := range lift[1] {
		lift[1][c] = -0.02 // group 1: cell 2 better than Auto by a hair, within the noise
	}
	lift[1][2] = 0.0003
	for c := range lift[2] {
		lift[2][c] = -0.02 // group 2: Auto beats every cell
	}
	lift[2][0] = -0.01
	res, err := CombineSearch([]*Summary{{Search: randomSearch(300, 0, 1, lift)}})
	if err != nil {
		t.Fatal(err)
	}
	type choice struct {
		Auto   bool
		Best   int
		Reason string
	}
	var got []choice
	for _, g := range res.Groups {
		got = append(got, choice{g.Auto, g.Best, g.Reason})
	}
	want := []choice{{false, 3, ReasonBeatsAuto}, {true, 2, ReasonNotSignificant}, {true, 0, ReasonAutoBest}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("choices (-want +got):\n%s", diff)
	}
	g0 := res.Groups[0]
	if !(g0.LiftVsAuto.Lo > 0) || g0.Chosen != res.Groups[0].Cells[3].GridCell {
		t.Errorf("group 0: chose %+v with lift %+v", g0.Chosen, g0.LiftVsAuto)
	}
	wantTable := []LabelGroup{{Min: 0, Max: 0.2, Positive: g0.Chosen.Positive, Negative: g0.Chosen.Negative}, {Min: 0.2, Max: 0.4, Auto: true}, {Min: 0.4, Max: 1, Auto: true}}
	if diff := cmp.Diff(wantTable, res.Table); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	// A group keeping Auto reports Auto's lift over Local: minus the identity's over Auto.
	g2 := res.Groups[2]
	if id := g2.Cells[0].LiftVsAuto.Mean; math.Abs(g2.LiftVsLocal.Mean+id) > 1e-12 || g2.LiftVsAuto.Mean != 0 {
		t.Errorf("group 2 keeps Auto: lift vs Local %v, want %v; vs Auto %v, want 0", g2.LiftVsLocal.Mean, -id, g2.LiftVsAuto.Mean)
	}
}

func TestCombineSearchDivergedAndMismatch(t *testing.T) {
	lift := make([][]float64, 3)
	for k := range lift {
		lift[k] = make([]float64, 11)
	}
	lift[0][3] = 0.03
	st := randomSearch(100, 0, 1, lift)
	st.Groups[0].Cells[3].Diverged = 1
	res, err := CombineSearch([]*Summary{{Search: st}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Groups[0].Best == 3 {
		t.Error("a diverged cell was chosen")
	}
	other := randomSearch(100, 0, 1, lift)
	other.Groups[1].MeanLocalCTR = 0.26
	if _, err := CombineSearch([]*Summary{{Shard: 0, Search: st}, {Shard: 1, Search: other}}); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("shards with different grids combined: %v", err)
	}
	if _, err := CombineSearch([]*Summary{{Shard: 0, Search: st}, {Shard: 0, Search: st}}); err == nil {
		t.Error("a shard counted twice")
	}
}

package data

import (
	"math"
	"reflect"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/metrics"
)

func TestGenerateDeterministic(t *testing.T) {
	cfg := DefaultSynthConfig()
	a, ta, err := GenerateWithTruth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, tb, err := GenerateWithTruth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ta, tb) {
		t.Error("same seed gave different data")
	}
	cfg.Seed++
	c, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(rawSamples(a), rawSamples(c)) {
		t.Error("different seeds gave identical data")
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(ta.ClickProb) != len(a.Samples) {
		t.Errorf("%d click probabilities for %d samples", len(ta.ClickProb), len(a.Samples))
	}
}

func TestGenerateShape(t *testing.T) {
	cfg := DefaultSynthConfig()
	ds, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ranges := UserRanges(ds)
	if len(ranges) != cfg.NumUsers {
		t.Fatalf("%d users with samples, want %d", len(ranges), cfg.NumUsers)
	}
	for _, r := range ranges {
		if r.Len() < cfg.MinSamplesPerUser {
			t.Fatalf("user %d has %d samples, below the minimum %d", r.User, r.Len(), cfg.MinSamplesPerUser)
		}
		for i := r.Start + 1; i < r.End; i++ {
			if ds.Samples[i].Timestamp <= ds.Samples[i-1].Timestamp {
				t.Fatalf("user %d: timestamps not strictly increasing", r.User)
			}
		}
	}
	mean := float64(len(ds.Samples)) / float64(cfg.NumUsers)
	if math.Abs(mean-float64(cfg.SamplesPerUser)) > 0.15*float64(cfg.SamplesPerUser) {
		t.Errorf("mean samples per user %v, want about %d", mean, cfg.SamplesPerUser)
	}
	// A timestamp split in the middle of the span cuts across many users.
	train, test, _ := SplitByTimestamp(ds, cfg.StartTime+cfg.Span/2)
	both := 0
	tr := map[int32]bool{}
	for _, r := range UserRanges(train) {
		tr[r.User] = true
	}
	for _, r := range UserRanges(test) {
		if tr[r.User] {
			both++
		}
	}
	if both < cfg.NumUsers/2 {
		t.Errorf("only %d of %d users straddle the middle timestamp", both, cfg.NumUsers)
	}
}

func TestGenerateGlobalCTR(t *testing.T) {
	for _, target := range []float64{0.1, 0.45, 0.8} {
		cfg := DefaultSynthConfig()
		cfg.NumUsers = 1000
		cfg.GlobalCTR = target
		ds, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := GlobalCTR(ds)
		// Per-user CTR sd at Drift 0.6 is 0.6*sqrt(g(1-g)) <= 0.3; over 1000
		// users with unequal sample counts the standard error is about 0.013.
		if math.Abs(g-target) > 0.04 {
			t.Errorf("target %v: realised global CTR %v", target, g)
		}
	}
}

// localCTRSpread is the standard deviation of local CTR over users.
func localCTRSpread(stats []UserStats) float64 {
	var s, s2 float64
	for _, u := range stats {
		s += u.LocalCTR
		s2 += u.LocalCTR * u.LocalCTR
	}
	n := float64(len(stats))
	return math.Sqrt(s2/n - (s/n)*(s/n))
}

func TestGenerateDrift(t *testing.T) {
	prev := -1.0
	for _, drift := range []float64{0, 0.3, 0.6, 0.9} {
		cfg := DefaultSynthConfig()
		cfg.Drift = drift
		cfg.MinSamplesPerUser = 20 // enough samples that binomial noise does not dominate
		ds, truth, err := GenerateWithTruth(cfg)
		if err != nil {
			t.Fatal(err)
		}
		stats := ComputeUserStats(ds)
		spread := localCTRSpread(stats)
		if spread <= prev {
			t.Errorf("drift %v: local CTR spread %v not above %v", drift, spread, prev)
		}
		prev = spread
		// Realised local CTRs follow the drawn per-user CTRs.
		var sq float64
		for _, s := range stats {
			d := s.LocalCTR - truth.UserCTR[s.User]
			sq += d * d
		}
		if rmse := math.Sqrt(sq / float64(len(stats))); rmse > 0.1 {
			t.Errorf("drift %v: local CTR deviates from drawn CTR by RMSE %v", drift, rmse)
		}
		if drift == 0.9 {
			// Long tail: many users near 0 or 1.
			extreme := 0
			for _, s := range stats {
				if s.LocalCTR <= 0.05 || s.LocalCTR >= 0.95 {
					extreme++
				}
			}
			if extreme < len(stats)/3 {
				t.Errorf("drift 0.9: only %d of %d users near 0 or 1", extreme, len(stats))
			}
		}
	}
}

func TestGenerateRankingSignal(t *testing.T) {
	cfg := DefaultSynthConfig()
	ds, truth, err := GenerateWithTruth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]float32, len(ds.Samples))
	for i, x := range ds.Samples {
		labels[i] = x.Label
	}
	all, ok := metrics.AUC(truth.ClickProb, labels)
	if !ok || all < 0.75 {
		t.Errorf("pooled oracle AUC %v, want > 0.75", all)
	}
	// Within users (the paper's metric): only category affinity and item
	// quality rank, and the oracle still beats chance clearly.
	var ua metrics.UserAUC
	for _, r := range UserRanges(ds) {
		if _, _, err := metrics.AddScores(&ua, truth.ClickProb[r.Start:r.End], labels[r.Start:r.End]); err != nil {
			t.Fatal(err)
		}
	}
	v, ok := ua.Value()
	if !ok || v < 0.65 {
		t.Errorf("user-level oracle AUC %v, want > 0.65", v)
	}
	// Without affinity and quality there is nothing to rank within a user.
	cfg.AffinityStrength, cfg.QualityStd = 0, 0
	ds, truth, _ = GenerateWithTruth(cfg)
	var flat metrics.UserAUC
	for _, r := range UserRanges(ds) {
		ls := make([]float32, 0, r.Len())
		for _, x := range ds.Samples[r.Start:r.End] {
			ls = append(ls, x.Label)
		}
		if _, _, err := metrics.AddScores(&flat, truth.ClickProb[r.Start:r.End], ls); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := flat.Value(); math.Abs(v-0.5) > 1e-9 {
		t.Errorf("no-signal user-level oracle AUC %v, want exactly 0.5 (all scores tied)", v)
	}
}

func TestGenerateInvalidConfig(t *testing.T) {
	mods := map[string]func(*SynthConfig){
		"no users":          func(c *SynthConfig) { c.NumUsers = 0 },
		"no items":          func(c *SynthConfig) { c.NumItems = 0 },
		"no categories":     func(c *SynthConfig) { c.NumCategories = 0 },
		"CTR 0":             func(c *SynthConfig) { c.GlobalCTR = 0 },
		"CTR 1":             func(c *SynthConfig) { c.GlobalCTR = 1 },
		"drift 1":           func(c *SynthConfig) { c.Drift = 1 },
		"negative drift":    func(c *SynthConfig) { c.Drift = -0.1 },
		"NaN zipf":          func(c *SynthConfig) { c.ZipfExponent = math.NaN() },
		"min above mean":    func(c *SynthConfig) { c.MinSamplesPerUser = c.SamplesPerUser + 1 },
		"too many prefs":    func(c *SynthConfig) { c.PreferredCategories = c.NumCategories + 1 },
		"negative quality":  func(c *SynthConfig) { c.QualityStd = -1 },
		"huge":              func(c *SynthConfig) { c.NumUsers, c.SamplesPerUser = 1<<20, 1<<10 },
		"negative history":  func(c *SynthConfig) { c.HistoryLen = -1 },
		"negative span":     func(c *SynthConfig) { c.Span = -5 },
		"infinite affinity": func(c *SynthConfig) { c.AffinityStrength = math.Inf(1) },
	}
	for name, mod := range mods {
		cfg := DefaultSynthConfig()
		mod(&cfg)
		if _, err := Generate(cfg); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
	// Zero optional fields take defaults.
	cfg := DefaultSynthConfig()
	cfg.MinSamplesPerUser, cfg.PreferredCategories, cfg.HistoryLen, cfg.Span = 0, 0, 0, 0
	ds, err := Generate(cfg)
	if err != nil || ds.Schema.HistoryLen != DefaultHistoryLen {
		t.Errorf("defaults: %v", err)
	}
	// Extreme drift and a tiny world still work.
	cfg = SynthConfig{Seed: 3, NumUsers: 50, NumItems: 1, NumCategories: 1, SamplesPerUser: 3, GlobalCTR: 0.01, Drift: 0.999}
	if ds, err := Generate(cfg); err != nil || ds.Validate() != nil {
		t.Errorf("tiny config: %v", err)
	}
}

// TestSynthMinority: MinorityShare marks about that share of users, whose
// true click probability on taste items is below their probability on
// other items, while the majority's is above; share 0 draws exactly the
// samples it drew before the field existed (no extra random draws).
func TestSynthMinority(t *testing.T) {
	cfg := DefaultSynthConfig()
	cfg.NumUsers = 2000
	plain, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MinorityShare = 0
	again, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain.Samples {
		if plain.Samples[i].Label != again.Samples[i].Label || plain.Samples[i].Item != again.Samples[i].Item {
			t.Fatalf("sample %d differs with MinorityShare 0", i)
		}
	}
	cfg.MinorityShare = 0.2
	ds, truth, err := GenerateWithTruth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var minority int
	var sum [2][2]float64 // [minority][taste item]: sum of true probabilities
	var cnt [2][2]float64
	for i, s := range ds.Samples {
		g, k := 0, 0
		if truth.Minority[s.User] {
			g = 1
		}
		if hasTaste(ds.ItemCategories[s.Item], cfg.NumCategories) {
			k = 1
		}
		sum[g][k] += truth.ClickProb[i]
		cnt[g][k]++
	}
	for _, m := range truth.Minority {
		if m {
			minority++
		}
	}
	if share := float64(minority) / float64(cfg.NumUsers); share < 0.17 || share > 0.23 {
		t.Errorf("minority share %v, want about 0.2", share)
	}
	mean := func(g, k int) float64 { return sum[g][k] / cnt[g][k] }
	if !(mean(0, 1) > mean(0, 0) && mean(1, 1) < mean(1, 0)) {
		t.Errorf("mean click probability: majority taste %.3f other %.3f, minority taste %.3f other %.3f", mean(0, 1), mean(0, 0), mean(1, 1), mean(1, 0))
	}
}

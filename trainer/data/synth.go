package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
)

// SynthConfig sets up Generate. Start from DefaultSynthConfig; fields noted
// "0 means default" take it, every other zero is taken literally.
type SynthConfig struct {
	Seed uint64 // same seed and config, identical Dataset

	NumUsers      int
	NumItems      int
	NumCategories int

	// SamplesPerUser is the mean number of samples of a user; counts are
	// MinSamplesPerUser plus a geometric draw (a long tail, like real logs).
	SamplesPerUser int
	// MinSamplesPerUser, 0 means min(5, SamplesPerUser).
	MinSamplesPerUser int

	// GlobalCTR is the mean of the per-user CTR distribution, in (0, 1).
	// The realised share of positives varies with the seed, with a standard
	// error of roughly Drift*sqrt(g(1-g))*sqrt(2/NumUsers) (0.025 for the
	// defaults): use the realised value (data.GlobalCTR), not this target,
	// for label correction.
	GlobalCTR float64
	// Drift in [0, 1) is the spread of per-user CTRs around GlobalCTR: the
	// standard deviation of the per-user CTR divided by its largest possible
	// value sqrt(g(1-g)). Per-user CTRs are Beta with mean g and
	// concentration 1/Drift^2 - 1: 0 gives every user CTR g; 0.5 a hump;
	// above about 0.7 a U shape, many users near 0 or 1 (the paper's
	// long tail).
	Drift float64

	// ZipfExponent s >= 0: the item of popularity rank k is shown with weight
	// k^-s (0 uniform, 1 classic Zipf).
	ZipfExponent float64
	// PreferredCategories per user, 0 means min(2, NumCategories).
	PreferredCategories int
	// AffinityStrength is the logit bonus of an item that has at least one
	// of the user's preferred categories.
	AffinityStrength float64
	// QualityStd is the standard deviation of the items' logit quality.
	QualityStd float64
	// MinorityShare in [0, 1) is the expected share of minority users,
	// whose own preference structure reverses the majority's shared
	// taste: the first max(1, NumCategories/5) categories are the taste
	// categories; an item with one of them gets +AffinityStrength on
	// every majority user's logit and -AffinityStrength on a minority
	// user's. A global model learns the majority's taste and underfits
	// the minority. 0 (the default) has no minority and draws exactly what
	// it drew before the field existed.
	MinorityShare float64 `json:",omitempty"` // omitted when 0: the settings digest of older configs is unchanged

	// HistoryLen, 0 means DefaultHistoryLen.
	HistoryLen int
	// StartTime (Unix seconds) and Span (seconds, 0 means 90 days): every
	// user starts in the first half of [StartTime, StartTime+Span) and
	// spreads their samples over about half of Span, so a timestamp split
	// cuts across most users.
	StartTime int64
	Span      int64
}

// DefaultSynthConfig is a small data set with MovieLens-like CTR drift and
// clear within-user ranking signal; it generates in a few milliseconds.
func DefaultSynthConfig() SynthConfig {
	return SynthConfig{
		Seed:                1,
		NumUsers:            300,
		NumItems:            500,
		NumCategories:       18,
		SamplesPerUser:      40,
		MinSamplesPerUser:   5,
		GlobalCTR:           0.45,
		Drift:               0.6,
		ZipfExponent:        0.8,
		PreferredCategories: 2,
		AffinityStrength:    2,
		QualityStd:          1,
		HistoryLen:          DefaultHistoryLen,
		StartTime:           1_600_000_000,
		Span:                90 * 24 * 3600,
	}
}

// maxSynthSamples bounds the expected sample count to keep a typo in a
// config from exhausting memory.
const maxSynthSamples = 200_000_000

// SynthTruth is what the generator knew: the ground truth behind the labels.
type SynthTruth struct {
	UserCTR     []float64 // drawn CTR level of each dense user
	UserOffset  []float64 // logit offset b_u that realises UserCTR
	UserPrefs   [][]int32 // preferred categories of each user
	ItemQuality []float64 // logit quality of each dense item
	ClickProb   []float64 // true click probability of each sample, aligned with Samples
	Minority    []bool    // minority users (MinorityShare), by dense user
}

// Generate draws a synthetic Dataset. See GenerateWithTruth for the model.
func Generate(cfg SynthConfig) (*Dataset, error) {
	ds, _, err := GenerateWithTruth(cfg)
	return ds, err
}

// GenerateWithTruth draws a synthetic Dataset and returns the ground truth.
//
// The model, all draws from one PCG stream seeded with cfg.Seed:
//
//   - Items: 1 to 3 distinct categories (uniform), quality q_i ~ N(0,
//     QualityStd^2), and a random popularity rank k_i; impressions pick item
//     i with probability proportional to k_i^-ZipfExponent (with
//     replacement: a user may see an item again).
//   - Users: a CTR level c_u ~ Beta(mean GlobalCTR, concentration
//     1/Drift^2-1), PreferredCategories preferred categories (uniform), and
//     n_u = MinSamplesPerUser + Geometric(mean SamplesPerUser -
//     MinSamplesPerUser) impressions.
//   - Clicks: s_ui = AffinityStrength*[item i has a preferred category of u]
//   - q_i (plus or minus the shared taste, MinorityShare), and P(click) = sigmoid(b_u + s_ui), where the offset b_u is
//     solved so that the mean click probability over u's impressions equals
//     c_u. So the user's local CTR follows c_u up to binomial noise (the
//     drift that label correction targets), while within a user the ranking
//     signal is category affinity and item quality (learnable: the oracle
//     per-user AUC is well above 0.5 unless c_u is near 0 or 1).
//   - Time: user u starts at a uniform time in the first half of the span
//     and each sample follows the previous by 1 to 2*gap_u seconds
//     (gap_u = Span/(2 n_u)), so timestamps strictly increase per user.
//
// Raw ids are "u<n>", "i<n>" and "c<n>". Schema.NumItems is NumItems even if
// some items are never shown.
func GenerateWithTruth(cfg SynthConfig) (*Dataset, *SynthTruth, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, nil, fmt.Errorf("synthetic data: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))

	users := make([]string, cfg.NumUsers)
	for u := range users {
		users[u] = "u" + strconv.Itoa(u)
	}
	items := make([]string, cfg.NumItems)
	for i := range items {
		items[i] = "i" + strconv.Itoa(i)
	}
	cats := make([]string, cfg.NumCategories)
	for c := range cats {
		cats[c] = "c" + strconv.Itoa(c)
	}
	vocab, err := NewVocabulary(users, items, cats)
	if err != nil {
		return nil, nil, fmt.Errorf("synthetic data: %w", err)
	}

	truth := &SynthTruth{
		UserCTR:     make([]float64, cfg.NumUsers),
		UserOffset:  make([]float64, cfg.NumUsers),
		UserPrefs:   make([][]int32, cfg.NumUsers),
		ItemQuality: make([]float64, cfg.NumItems),
		Minority:    make([]bool, cfg.NumUsers),
	}
	itemCats := make([][]int32, cfg.NumItems)
	for i := range itemCats {
		k := 1 + rng.IntN(min(3, cfg.NumCategories))
		itemCats[i] = pickDistinct(rng, cfg.NumCategories, k)
		truth.ItemQuality[i] = cfg.QualityStd * rng.NormFloat64()
	}
	// Cumulative popularity over items, ranks assigned by a random permutation.
	cum := make([]float64, cfg.NumItems)
	total := 0.0
	for i, rank := range rng.Perm(cfg.NumItems) {
		total += math.Pow(float64(rank+1), -cfg.ZipfExponent)
		cum[i] = total
	}

	conc := 0.0
	if cfg.Drift > 0 {
		conc = 1/(cfg.Drift*cfg.Drift) - 1
	}
	var samples []Sample
	var scores []float64
	for u := range cfg.NumUsers {
		c := cfg.GlobalCTR
		if cfg.Drift > 0 {
			c = betaMeanConc(rng, cfg.GlobalCTR, conc)
		}
		truth.UserCTR[u] = c
		prefs := pickDistinct(rng, cfg.NumCategories, cfg.PreferredCategories)
		truth.UserPrefs[u] = prefs
		taste := 0.0 // the shared taste's logit bonus for this user
		if cfg.MinorityShare > 0 {
			taste = cfg.AffinityStrength
			if rng.Float64() < cfg.MinorityShare {
				truth.Minority[u], taste = true, -cfg.AffinityStrength
			}
		}
		n := cfg.MinSamplesPerUser + geometric(rng, float64(cfg.SamplesPerUser-cfg.MinSamplesPerUser))

		first := len(samples)
		scores = scores[:0]
		gap := max(cfg.Span/int64(2*n), 1)
		ts := cfg.StartTime + rng.Int64N(cfg.Span/2+1)
		for range n {
			i := int32(sort.SearchFloat64s(cum, rng.Float64()*total))
			i = min(i, int32(cfg.NumItems-1)) // guards the rounding edge of the last bucket
			s := truth.ItemQuality[i]
			if hasAny(itemCats[i], prefs) {
				s += cfg.AffinityStrength
			}
			if taste != 0 && hasTaste(itemCats[i], cfg.NumCategories) {
				s += taste
			}
			scores = append(scores, s)
			ts += 1 + rng.Int64N(2*gap)
			samples = append(samples, Sample{User: int32(u), Item: i, Timestamp: ts})
		}
		b := solveOffset(scores, c)
		truth.UserOffset[u] = b
		for k, s := range scores {
			p := sigmoid(b + s)
			truth.ClickProb = append(truth.ClickProb, p)
			if rng.Float64() < p {
				samples[first+k].Label = 1
			}
		}
	}
	if err := buildFeatures(samples, itemCats, cfg.HistoryLen); err != nil {
		return nil, nil, fmt.Errorf("synthetic data: %w", err)
	}
	ds := &Dataset{
		Schema: Schema{
			NumUsers:      cfg.NumUsers,
			NumItems:      cfg.NumItems,
			NumCategories: cfg.NumCategories,
			HistoryLen:    cfg.HistoryLen,
		},
		Samples:        samples,
		Vocab:          vocab,
		ItemCategories: itemCats,
	}
	return ds, truth, nil
}

func (cfg SynthConfig) withDefaults() (SynthConfig, error) {
	if cfg.MinSamplesPerUser == 0 {
		cfg.MinSamplesPerUser = min(5, cfg.SamplesPerUser)
	}
	if cfg.PreferredCategories == 0 {
		cfg.PreferredCategories = min(2, cfg.NumCategories)
	}
	if cfg.HistoryLen == 0 {
		cfg.HistoryLen = DefaultHistoryLen
	}
	if cfg.Span == 0 {
		cfg.Span = 90 * 24 * 3600
	}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	check(cfg.NumUsers >= 1 && cfg.NumUsers <= math.MaxInt32, "NumUsers %d is outside [1, 2^31-1]", cfg.NumUsers)
	check(cfg.NumItems >= 1 && cfg.NumItems <= math.MaxInt32, "NumItems %d is outside [1, 2^31-1]", cfg.NumItems)
	check(cfg.NumCategories >= 1 && cfg.NumCategories <= math.MaxInt32, "NumCategories %d is outside [1, 2^31-1]", cfg.NumCategories)
	check(cfg.SamplesPerUser >= 1, "SamplesPerUser %d is less than 1", cfg.SamplesPerUser)
	check(cfg.MinSamplesPerUser >= 1 && cfg.MinSamplesPerUser <= cfg.SamplesPerUser,
		"MinSamplesPerUser %d is outside [1, SamplesPerUser=%d]", cfg.MinSamplesPerUser, cfg.SamplesPerUser)
	check(float64(cfg.NumUsers)*float64(cfg.SamplesPerUser) <= maxSynthSamples,
		"NumUsers*SamplesPerUser = %d*%d exceeds %d samples", cfg.NumUsers, cfg.SamplesPerUser, maxSynthSamples)
	check(cfg.GlobalCTR > 0 && cfg.GlobalCTR < 1, "GlobalCTR %v is outside (0, 1)", cfg.GlobalCTR)
	check(cfg.Drift >= 0 && cfg.Drift < 1, "Drift %v is outside [0, 1)", cfg.Drift)
	check(cfg.ZipfExponent >= 0 && finite(cfg.ZipfExponent), "ZipfExponent %v is not a finite number >= 0", cfg.ZipfExponent)
	check(cfg.PreferredCategories >= 0 && cfg.PreferredCategories <= cfg.NumCategories,
		"PreferredCategories %d is outside [0, NumCategories=%d]", cfg.PreferredCategories, cfg.NumCategories)
	check(finite(cfg.AffinityStrength), "AffinityStrength %v is not finite", cfg.AffinityStrength)
	check(cfg.QualityStd >= 0 && finite(cfg.QualityStd), "QualityStd %v is not a finite number >= 0", cfg.QualityStd)
	check(cfg.MinorityShare >= 0 && cfg.MinorityShare < 1, "MinorityShare %v is outside [0, 1)", cfg.MinorityShare)
	check(cfg.HistoryLen >= 0, "HistoryLen %d is negative", cfg.HistoryLen)
	// The last timestamp is below StartTime + 1.5*Span + 3*n_u: these
	// bounds keep it far from int64 overflow.
	check(cfg.Span > 0 && cfg.Span <= 1<<58, "Span %d is outside [1, 2^58]", cfg.Span)
	check(cfg.StartTime >= -(1<<60) && cfg.StartTime <= 1<<60, "StartTime %d is outside [-2^60, 2^60]", cfg.StartTime)
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("invalid config: %w", err)
	}
	return cfg, nil
}

// pickDistinct returns k distinct values of [0, n), sorted.
func pickDistinct(rng *rand.Rand, n, k int) []int32 {
	out := make([]int32, 0, k)
	if 2*k > n {
		for _, c := range rng.Perm(n)[:k] {
			out = append(out, int32(c))
		}
		slices.Sort(out)
		return out
	}
	for len(out) < k {
		c := int32(rng.IntN(n))
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// hasTaste reports whether an item of categories cats has a taste
// category (SynthConfig.MinorityShare): one below max(1, n/5).
func hasTaste(cats []int32, n int) bool {
	for _, c := range cats {
		if int(c) < max(1, n/5) {
			return true
		}
	}
	return false
}

func hasAny(a, b []int32) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

package data

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
)

// DefaultNegativesPerPositive is the number of negatives sampled per
// positive when NegativeOptions leaves it at 0: 5 gives a global CTR of
// 1/6 (about 0.17, the paper's Amazon Electronics CTR).
const DefaultNegativesPerPositive = 5

// MaxNegativesPerPositive bounds NegativeOptions.PerPositive.
const MaxNegativesPerPositive = 1000

// NegativeOptions configure the sampling of negatives for implicit feedback
// (logs of positives only, such as reviews).
type NegativeOptions struct {
	// PerPositive is the number of negatives drawn for each positive; 0
	// means DefaultNegativesPerPositive.
	PerPositive int
	// Seed of the sampler. Each user's draws come from a generator seeded
	// with Seed and a hash of the user's raw id, so they depend neither on
	// the order of the input rows nor on which other users are read (a
	// shard draws what the whole dataset draws for its users).
	Seed uint64
}

func (o NegativeOptions) perPositive() (int, error) {
	switch {
	case o.PerPositive == 0:
		return DefaultNegativesPerPositive, nil
	case o.PerPositive < 0 || o.PerPositive > MaxNegativesPerPositive:
		return 0, fmt.Errorf("negatives per positive %d is outside [1, %d]", o.PerPositive, MaxNegativesPerPositive)
	}
	return o.PerPositive, nil
}

// userRNG is the generator of one user's negatives.
func userRNG(seed uint64, rawUser string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(rawUser))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// sampleNegatives draws k negatives for each of a user's positives.
// positives are the user's items (indices into pool's order: see below),
// sorted by time; pool is the number of items of the catalogue, and the
// items are numbered 0..pool-1 in sorted raw-id order. Negatives are drawn
// uniformly, with replacement, from the catalogue items the user never
// interacted with; a user who interacted with every item gets none. The
// draws for positive i are out[i*k : (i+1)*k].
func sampleNegatives(rng *rand.Rand, positives []int32, pool, k int) []int32 {
	seen := slices.Clone(positives)
	slices.Sort(seen)
	seen = slices.Compact(seen)
	free := pool - len(seen)
	if free <= 0 || k == 0 {
		return nil
	}
	out := make([]int32, 0, len(positives)*k)
	// Draw the r-th free item (r uniform in [0, free)) and map it to its
	// index by skipping the seen items below it: exact, no rejection loop,
	// O(log |seen|) per draw.
	for range len(positives) * k {
		r := int32(rng.IntN(free))
		out = append(out, nthFree(seen, r))
	}
	return out
}

// nthFree returns the r-th (0-based) non-negative integer that is not in
// seen (sorted, distinct).
func nthFree(seen []int32, r int32) int32 {
	// The answer is r+j where j is the number of seen values <= r+j; j is
	// the smallest with seen[j] > r+j (seen[i]-i is non-decreasing).
	lo, hi := 0, len(seen)
	for lo < hi {
		mid := (lo + hi) / 2
		if seen[mid]-int32(mid) <= r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return r + int32(lo)
}

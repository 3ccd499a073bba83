package metrics

import (
	"errors"
	"fmt"
	"math"
)

// Bucket is one local-CTR interval of a lift report: [Lo, Hi), the last
// bucket also holding Hi. A and B are the user-level AUCs of the two methods
// over the bucket's users that have a defined AUC under both (so A.Users ==
// B.Users; the others count in A.SkippedUsers and B.SkippedUsers).
type Bucket struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	A  UserAUC `json:"a"`
	B  UserAUC `json:"b"`
}

// Users is the number of users compared in the bucket.
func (b Bucket) Users() int { return b.A.Users }

// Lift is the bucket's user-level AUC of A minus that of B; ok is false for
// a bucket without compared users.
func (b Bucket) Lift() (lift float64, ok bool) {
	a, okA := b.A.Value()
	c, okB := b.B.Value()
	if !okA || !okB {
		return 0, false
	}
	return a - c, true
}

// EqualEdges returns the n+1 edges of n equal buckets on [0, 1].
func EqualEdges(n int) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("equal edges: %d buckets", n)
	}
	edges := make([]float64, n+1)
	for i := range edges {
		edges[i] = float64(i) / float64(n)
	}
	return edges, nil
}

// LiftByBucket groups users by local CTR (their train-set CTR) into the
// buckets delimited by edges (strictly increasing, at least two) and
// reports, per bucket, the user-level AUC of methods A and B. All slices are
// aligned by user; aucA/aucB hold NaN for an undefined AUC; weights are the
// users' test-set sizes. Users whose local CTR lies outside [edges[0],
// edges[last]] belong to no bucket.
func LiftByBucket(localCTR, aucA, aucB, weights, edges []float64) ([]Bucket, error) {
	n := len(localCTR)
	if len(aucA) != n || len(aucB) != n || len(weights) != n {
		return nil, fmt.Errorf("lift by bucket: lengths differ (local CTR %d, A %d, B %d, weights %d)",
			n, len(aucA), len(aucB), len(weights))
	}
	if len(edges) < 2 {
		return nil, errors.New("lift by bucket: need at least two edges")
	}
	for i := 1; i < len(edges); i++ {
		if !(edges[i] > edges[i-1]) || math.IsInf(edges[i], 0) || math.IsInf(edges[i-1], 0) {
			return nil, fmt.Errorf("lift by bucket: edges %v are not finite and strictly increasing", edges)
		}
	}
	buckets := make([]Bucket, len(edges)-1)
	for k := range buckets {
		buckets[k].Lo, buckets[k].Hi = edges[k], edges[k+1]
	}
	for u := range n {
		k := bucketOf(edges, localCTR[u])
		if k < 0 {
			continue
		}
		b := &buckets[k]
		if math.IsNaN(aucA[u]) || math.IsNaN(aucB[u]) {
			b.A.SkippedUsers++
			b.B.SkippedUsers++
			continue
		}
		if err := b.A.add(weights[u], aucA[u]); err != nil {
			return nil, fmt.Errorf("lift by bucket, user %d, method A: %w", u, err)
		}
		if err := b.B.add(weights[u], aucB[u]); err != nil {
			return nil, fmt.Errorf("lift by bucket, user %d, method B: %w", u, err)
		}
	}
	return buckets, nil
}

// bucketOf returns k with edges[k] <= x < edges[k+1] (x == last edge goes to
// the last bucket), or -1 when x is outside or NaN.
func bucketOf(edges []float64, x float64) int {
	last := len(edges) - 1
	if !(x >= edges[0] && x <= edges[last]) {
		return -1
	}
	if x == edges[last] {
		return last - 1
	}
	lo, hi := 0, last // invariant: edges[lo] <= x < edges[hi]
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if edges[mid] <= x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAUCHandComputed(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		labels []float64
		want   float64
	}{
		// Perfect ranking: every positive above every negative.
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []float64{0, 0, 1, 1}, 1},
		// Reversed.
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		// All scores tied: every pair counts 1/2.
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5, 0.5}, []float64{1, 0, 1, 0, 0}, 0.5},
		// Scores 0.1(-) 0.4(+) 0.4(-) 0.8(+) 0.8(+) 0.3(-).
		// P=3, N=3, 9 pairs. Positive 0.4: beats 0.1 and 0.3 (2), ties 0.4(-)
		// (1/2) = 2.5. Positives 0.8, 0.8: beat all 3 negatives = 3 each.
		// U = 2.5 + 3 + 3 = 8.5; AUC = 8.5/9.
		{"ties across classes", []float64{0.1, 0.4, 0.4, 0.8, 0.8, 0.3}, []float64{0, 1, 0, 1, 1, 0}, 8.5 / 9},
		// Scores 1(+) 1(-) 1(-) 2(-) 2(+) 3(+) 0(-); P=3, N=4, 12 pairs.
		// Positive 1: beats 0 (1) + ties two 1(-) (2*1/2=1) = 2.
		// Positive 2: beats 0,1,1 (3) + ties 2(-) (1/2) = 3.5.
		// Positive 3: beats all 4 = 4. U = 9.5; AUC = 9.5/12.
		// Mid-rank check: sorted 0(-) 1 1 1 2 2 3 -> ranks 1, 3,3,3, 5.5,5.5, 7;
		// positive ranks 3+5.5+7 = 15.5; U = 15.5 - 3*4/2 = 9.5. Same.
		{"ties, mid-ranks", []float64{1, 1, 1, 2, 2, 3, 0}, []float64{1, 0, 0, 0, 1, 1, 0}, 9.5 / 12},
	}
	for _, c := range cases {
		got, ok := AUC(c.scores, c.labels)
		if !ok || math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s: AUC = %v, %v; want %v", c.name, got, ok, c.want)
		}
	}
}

func TestAUCFloat32AndUndefined(t *testing.T) {
	got, ok := AUC([]float32{0.2, 0.7, 0.7}, []float32{0, 1, 0})
	// Positive 0.7 beats 0.2 (1) and ties 0.7 (1/2): 1.5/2.
	if !ok || got != 0.75 {
		t.Errorf("float32 AUC = %v, %v; want 0.75", got, ok)
	}
	undefined := []struct {
		name   string
		scores []float64
		labels []float64
	}{
		{"empty", nil, nil},
		{"all positive", []float64{1, 2}, []float64{1, 1}},
		{"all negative", []float64{1, 2}, []float64{0, 0}},
		{"length mismatch", []float64{1, 2}, []float64{0}},
		{"NaN score", []float64{1, math.NaN()}, []float64{0, 1}},
	}
	for _, c := range undefined {
		if _, ok := AUC(c.scores, c.labels); ok {
			t.Errorf("%s: ok = true", c.name)
		}
	}
}

// bruteAUC counts pairs directly, O(P*N).
func bruteAUC(scores, labels []float64) float64 {
	var u, pairs float64
	for i := range scores {
		if labels[i] != 1 {
			continue
		}
		for j := range scores {
			if labels[j] != 0 {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				u++
			case scores[i] == scores[j]:
				u += 0.5
			}
		}
	}
	return u / pairs
}

func TestAUCMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + rng.IntN(60)
		scores := make([]float64, n)
		labels := make([]float64, n)
		for i := range scores {
			scores[i] = float64(rng.IntN(8)) // few distinct values: many ties
			labels[i] = float64(rng.IntN(2))
		}
		got, ok := AUC(scores, labels)
		if !ok {
			continue
		}
		if want := bruteAUC(scores, labels); math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: AUC %v, brute force %v", trial, got, want)
		}
	}
}

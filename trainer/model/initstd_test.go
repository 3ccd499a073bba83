package model

import (
	"math"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// TestEmbeddingInitStd checks that embedding rows are drawn with the
// configured standard deviation (default 0.05) and that a bad value is
// refused.
func TestEmbeddingInitStd(t *testing.T) {
	s := data.Schema{NumUsers: 400, NumItems: 400, NumCategories: 10, HistoryLen: 2}
	for _, tc := range []struct {
		std, want float64
	}{{0, DefaultEmbeddingInitStd}, {0.2, 0.2}, {0.01, 0.01}} {
		m := mustNew(t, Config{Arch: ArchWideDeep, EmbeddingDim: 8, HiddenUnits: []int{4}, Seed: 3, EmbeddingInitStd: tc.std}, s)
		var sum, sq, n float64
		for _, tb := range m.p.tables {
			if !strings.HasPrefix(tb.name, "embed.") {
				continue // the wide part starts at 0
			}
			for _, v := range tb.data {
				sum += float64(v)
				sq += float64(v) * float64(v)
				n++
			}
		}
		mean := sum / n
		sd := math.Sqrt(sq/n - mean*mean)
		// 6480 embedding values: the sample sd is within 5% of the true one with
		// overwhelming probability.
		if math.Abs(sd-tc.want) > 0.05*tc.want {
			t.Errorf("EmbeddingInitStd %v: embedding sd %v, want %v", tc.std, sd, tc.want)
		}
	}
	if _, err := New(Config{Arch: ArchWideDeep, EmbeddingDim: 8, HiddenUnits: []int{4}, EmbeddingInitStd: -1}, s); err == nil {
		t.Error("negative EmbeddingInitStd accepted")
	}
}

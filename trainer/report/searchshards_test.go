package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// TestSearchShardReportsCombine: the reports of a 2-shard search, read
// together, give the result of the same search run as one shard.
func TestSearchShardReportsCombine(t *testing.T) {
	ctx := context.Background()
	ds := runspec.Dataset{Format: runner.FormatSynthetic, HistoryLength: 5,
		Synthetic: &runspec.Synthetic{Users: 120, Items: 60, Categories: 5, SamplesPerUser: 30, GlobalCTR: 0.4, Drift: 0.8, Seed: 3},
		Split:     runspec.Split{Method: runner.SplitPerUserFraction, TrainFraction: 0.8, HoldoutFraction: 0.2}}
	psum, err := runner.Run(ctx, &runspec.Spec{Version: runspec.Version, Kind: runspec.KindPretrain, Dataset: ds,
		Model:        &runspec.Model{Architecture: "LR"},
		Optimization: runspec.Optimization{LearningRate: 0.5, Epochs: 1, BatchSize: 32, Seed: 3}, OutputURI: "mem://reportsearch/model", Shards: 1}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := psum.Pretrain
	results := map[int]*runner.SearchReport{}
	for _, shards := range []int{1, 2} {
		spec := &runspec.Spec{Version: runspec.Version, Kind: runspec.KindSearch, Dataset: ds,
			GlobalModel:  &runspec.ModelArtifact{URI: p.ArtifactURI, Digest: p.Digest, GlobalCTR: p.GlobalCTR, HoldoutFraction: p.HoldoutFraction, HoldoutSamples: p.HoldoutSamples},
			Optimization: runspec.Optimization{LearningRate: 0.1, Epochs: 1, BatchSize: 32, Seed: 3},
			Search:       &runspec.Search{Quantiles: 2, MinSamples: 3}, OutputURI: "mem://reportsearch/search", Shards: shards}
		var names []string
		var blobs [][]byte
		for sh := range shards {
			sum, err := runner.Run(ctx, spec, sh, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := storage.ReadAll(ctx, sum.ReportURI)
			if err != nil {
				t.Fatal(err)
			}
			names, blobs = append(names, sum.ReportURI), append(blobs, b)
		}
		res, err := Decode(names, blobs)
		if err != nil {
			t.Fatal(err)
		}
		results[shards] = res.Search
		var md bytes.Buffer
		if err := Markdown(&md, res); err != nil {
			t.Fatal(err)
		}
		if shards == 2 && !strings.Contains(md.String(), "2 shards combined") {
			t.Errorf("markdown of combined shards:\n%s", md.String())
		}
	}
	one, two := results[1].Result, results[2].Result
	two.Shards = 1
	if diff := cmp.Diff(one, two); diff != "" {
		t.Errorf("one shard and two shards' reports combined differ (-1 +2):\n%s", diff)
	}
}

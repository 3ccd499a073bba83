package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// writeAmazonDir writes a small Amazon-format dataset (gzip reviews,
// Python-literal metadata) where users favour items of their own category,
// with reviews on both sides of the paper's split time.
func writeAmazonDir(t *testing.T, users, items int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 5))
	const cats = 4
	var reviews bytes.Buffer
	zw := gzip.NewWriter(&reviews)
	for u := range users {
		for range 10 {
			it := rng.IntN(items)
			if rng.IntN(4) > 0 { // mostly the user's category
				it = (it/cats)*cats + u%cats
			}
			ts := data.AmazonSplitTime + int64(rng.IntN(300)-200)*86400
			fmt.Fprintf(zw, `{"reviewerID": "R%d", "asin": "P%03d", "overall": 4.0, "unixReviewTime": %d}`+"\n", u, it%items, ts)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var meta strings.Builder
	for i := range items {
		fmt.Fprintf(&meta, "{'asin': 'P%03d', 'title': \"Cable's end\", 'categories': [['Electronics', 'Kind %d']]}\n", i, i%cats)
	}
	if err := os.WriteFile(filepath.Join(dir, data.AmazonReviewsFile+".gz"), reviews.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, data.AmazonMetadataFile), []byte(meta.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExperimentAmazon(t *testing.T) {
	dir := writeAmazonDir(t, 60, 48)
	results := filepath.Join(t.TempDir(), "results.json")
	code, out, stderr := lcft(t, "experiment", "--data", dir, "--format", "Amazon", "--arch", "LR,WideDeep,DeepFM,PNN,DIN",
		"--embedding-dim", "4", "--hidden", "8", "--history-len", "5", "--strategies", "None,Auto", "--ft-lr", "0.1", "--out", results)
	if code != 0 {
		t.Fatalf("experiment exited %d: %s", code, stderr)
	}
	t.Log("\n" + out)
	if !strings.Contains(out, "dataset Amazon "+dir+", split Timestamp") {
		t.Errorf("experiment output does not name the Amazon dataset and its default time split:\n%s", out)
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var res ExperimentResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Dataset.Split.Timestamp != data.AmazonSplitTime || res.Dataset.Negatives == nil || res.Dataset.Negatives.PerPositive != data.DefaultNegativesPerPositive {
		t.Errorf("dataset %+v: want the paper's split time and 5 negatives per positive", res.Dataset)
	}
	if len(res.Models) != 5 {
		t.Fatalf("results have %d models, want 5", len(res.Models))
	}
	for _, m := range res.Models {
		p := m.Pretrain
		// 5 negatives per positive: a global CTR of 1/6 on the train split.
		if p.GlobalCTR < 0.16 || p.GlobalCTR > 0.17 {
			t.Errorf("%s: global CTR %v, want 1/6", m.Architecture, p.GlobalCTR)
		}
		// Every train positive comes with its 5 negatives.
		if p.Users != 60 || p.Samples == 0 || p.Samples%6 != 0 {
			t.Errorf("%s: %d users, %d training samples; want 60 users and 6 samples per train review", m.Architecture, p.Users, p.Samples)
		}
		if !(p.CloudAUC > 0 && p.CloudAUC < 1) || len(m.Strategies) != 2 || m.Strategies[0].LCFT.Users == 0 {
			t.Errorf("%s: Cloud AUC %v, %d strategies: the model was not scored and fine-tuned", m.Architecture, p.CloudAUC, len(m.Strategies))
		}
	}
}

func TestAmazonFlagsBadData(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := lcft(t, "experiment", "--data", dir, "--format", "Amazon", "--arch", "LR")
	if code != 2 || !strings.Contains(stderr, "reviews_Electronics_5.json") {
		t.Errorf("an empty Amazon directory: exit %d, %s", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, data.AmazonReviewsFile), []byte(`{"reviewerID": "R", "asin": "P"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, data.AmazonMetadataFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = lcft(t, "experiment", "--data", dir, "--format", "Amazon", "--arch", "LR")
	if want := data.AmazonReviewsFile + ":1: review lacks unixReviewTime"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("a review without time: exit %d, %s; want %q", code, stderr, want)
	}
}

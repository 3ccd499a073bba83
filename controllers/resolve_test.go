package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

var resolveOpts = Options{ArtifactURI: "file:///artifacts"}

// The pretraining's run spec carries the holdout (in its split only: cohorts
// on the same data still match the model's partitions) and the embedding
// init std (0 for the default, so older runs keep their identity).
func TestPretrainSpecHoldoutAndInitStd(t *testing.T) {
	cases := []struct {
		name             string
		holdout, initStd v1.Decimal
		wantHoldout      float64
		wantInitStd      float64
	}{
		{"defaults", "", "", 0, 0},
		{"explicit default init std", "0", "0.05", 0, 0},
		{"holdout and init std", "0.2", "0.1", 0.2, 0.1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gm := holdoutModel("ns", "m", tc.holdout)
			gm.Spec.Hyperparameters.EmbeddingInitStd = tc.initStd
			spec, err := pretrainSpec(gm, resolveOpts)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Dataset.Split.HoldoutFraction != tc.wantHoldout || spec.Model.EmbeddingInitStd != tc.wantInitStd {
				t.Errorf("holdout %v, init std %v; want %v, %v", spec.Dataset.Split.HoldoutFraction, spec.Model.EmbeddingInitStd, tc.wantHoldout, tc.wantInitStd)
			}
			if err := spec.Validate(); err != nil {
				t.Errorf("the trainer would refuse the spec: %v", err)
			}
			// The cohorts' view of the model's dataset has no holdout.
			trained := resolveDataset(&decimals{}, "", gm.Spec.Training.Dataset, 10)
			if trained.Split.HoldoutFraction != 0 {
				t.Errorf("resolved training dataset has holdout %v", trained.Split.HoldoutFraction)
			}
		})
	}
}

// readyHoldoutModel is a Ready model's status as the pretraining writes it.
func readyHoldoutModel(holdout v1.Decimal) *v1.GlobalModel {
	gm := holdoutModel("ns", "wd", holdout)
	gm.Status = v1.GlobalModelStatus{Phase: v1.PhaseReady, ArtifactURI: "file:///m/model.lcft", Digest: "sha256:" + strings.Repeat("a", 64),
		GlobalCTR: "0.3", HoldoutFraction: holdout, HoldoutSamples: 900}
	return gm
}

func TestSearchSpec(t *testing.T) {
	p := searchPolicy("ns", "p", "wd", 4)
	p.Spec.Search.ValidationFraction = "0.3" // deprecated: ignored
	spec, err := searchSpec(p, readyHoldoutModel("0.2"), resolveOpts)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Shards != 4 || !cmp.Equal(spec.Search.Seeds, []int64{3, 5}) || spec.Search.ValidationFraction != 0 ||
		spec.GlobalModel.HoldoutFraction != 0.2 || spec.GlobalModel.HoldoutSamples != 900 {
		t.Errorf("search spec: shards %d, seeds %v, validation fraction %v, model %+v; want 4, [3 5], 0 and the model's holdout 0.2 (900 rows)",
			spec.Shards, spec.Search.Seeds, spec.Search.ValidationFraction, spec.GlobalModel)
	}
	if got := searchSeeds(spec); !cmp.Equal(got, []int64{3, 5}) {
		t.Errorf("status seeds %v", got)
	}
	p.Spec.Search.Seeds = nil
	spec, err = searchSpec(p, readyHoldoutModel("0.2"), resolveOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got := searchSeeds(spec); !cmp.Equal(got, []int64{1}) {
		t.Errorf("status seeds without spec seeds %v; want the fine-tuning seed [1]", got)
	}

	// A grid whose sums would not fit the shards' termination messages is
	// refused before a Job is made, with the trainer's reason.
	big := searchPolicy("ns", "big", "wd", 1)
	for _, l := range []v1.SignedDecimal{"0.5", "1", "1.5", "2", "2.5", "3"} {
		big.Spec.Search.PositiveLabels = append(big.Spec.Search.PositiveLabels, l)
		big.Spec.Search.NegativeLabels = append(big.Spec.Search.NegativeLabels, "-"+l)
	}
	if _, err := searchSpec(big, readyHoldoutModel("0.2"), resolveOpts); err == nil || !strings.Contains(err.Error(), "cells per group") {
		t.Errorf("a 37-cell grid: err %v; want a refusal naming the cells per group", err)
	}
}

func TestPolicyCorrectionKeepsAutoGroups(t *testing.T) {
	p := policyObj("ns", "p", v1.StrategyHard)
	p.Status.Groups = []v1.ResolvedLabelGroup{
		{CTRRange: v1.CTRRange{Min: "0", Max: "0.3"}, Strategy: v1.GroupHard, PositiveLabel: "1.5", NegativeLabel: "-0.2"},
		{CTRRange: v1.CTRRange{Min: "0.3", Max: "0.6"}, Strategy: v1.GroupAuto},
		{CTRRange: v1.CTRRange{Min: "0.6", Max: "1"}, PositiveLabel: "1", NegativeLabel: "0.4"}, // before strategy: Hard
	}
	c, err := policyCorrection(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &runspec.Correction{Strategy: "Hard", Groups: []runspec.LabelGroup{
		{Min: 0, Max: 0.3, Positive: 1.5, Negative: -0.2},
		{Min: 0.3, Max: 0.6, Auto: true},
		{Min: 0.6, Max: 1, Positive: 1, Negative: 0.4},
	}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("correction (-want +got):\n%s", diff)
	}
}

func TestResolveDatasetTestHistories(t *testing.T) {
	for in, want := range map[v1.TestHistories]string{
		"":                          "",
		v1.TestHistoriesEarlierRows: "", // the default: runs keep their identity
		v1.TestHistoriesTrainRows:   runspec.TestHistoriesTrainRows,
	} {
		ds := testData()
		ds.TestHistories = in
		if got := resolveDataset(&decimals{}, "spec.dataset", ds, 10).TestHistories; got != want {
			t.Errorf("testHistories %q resolves to %q; want %q", in, got, want)
		}
	}
}

// TestResolveDatasetNegatives: an implicit-feedback dataset's negative
// sampling reaches the run spec as given; unset, the spec has none (the
// trainer's defaults) and existing runs keep their identity.
func TestResolveDatasetNegatives(t *testing.T) {
	ds := testData()
	ds.Format, ds.URI = v1.DatasetAmazon, "s3://data/amazon"
	if got := resolveDataset(&decimals{}, "spec.dataset", ds, 10); got.Format != "Amazon" || got.Negatives != nil {
		t.Errorf("without negatives: format %q, negatives %+v", got.Format, got.Negatives)
	}
	ds.Negatives = &v1.NegativeSampling{PerPositive: 4, Seed: 9}
	got := resolveDataset(&decimals{}, "spec.dataset", ds, 10)
	if want := (runspec.Negatives{PerPositive: 4, Seed: 9}); got.Negatives == nil || *got.Negatives != want {
		t.Errorf("negatives %+v, want %+v", got.Negatives, want)
	}
}

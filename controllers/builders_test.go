package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// Builders of test objects (Kueue's style): a valid object with options.

// testData is a small synthetic data set with strong CTR drift, shared by
// the model and the cohorts of a test so that users line up.
func testData() v1.DatasetSpec {
	return v1.DatasetSpec{
		Format: v1.DatasetSynthetic,
		Synthetic: &v1.SyntheticDataSpec{
			Users: 120, Items: 200, Categories: 8, SamplesPerUser: 40, GlobalCTR: "0.3", Drift: "0.7", Seed: 3,
		},
		Split: v1.SplitSpec{Method: v1.SplitPerUserFraction, TrainFraction: "0.8"},
	}
}

// missingDataset names a file that does not exist: the trainer exits with
// bad input, and the run fails without retries.
func missingDataset() v1.DatasetSpec {
	return v1.DatasetSpec{Format: v1.DatasetSamples, URI: "file:///nonexistent/lcft/samples.csv", Split: v1.SplitSpec{Method: v1.SplitPerUserFraction, TrainFraction: "0.8"}}
}

func modelObj(ns, name string) *v1.GlobalModel {
	return &v1.GlobalModel{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.GlobalModelSpec{
			Architecture:    v1.ArchitectureWideDeep,
			Hyperparameters: v1.Hyperparameters{EmbeddingDim: 8, HiddenUnits: []int32{16}, HistoryLength: 10},
			Training: &v1.PretrainingSpec{
				Dataset: testData(), Optimizer: v1.OptimizerSGD, LearningRate: "0.5", LearningRateDecay: "0.5", Epochs: 2, BatchSize: 32, Seed: 1,
			},
		},
	}
}

// holdoutModel is modelObj pretrained without the last fraction of each
// user's training rows, which a search validates on.
func holdoutModel(ns, name string, fraction v1.Decimal) *v1.GlobalModel {
	gm := modelObj(ns, name)
	gm.Spec.Training.HoldoutFraction = fraction
	return gm
}

func policyObj(ns, name string, strategy v1.CorrectionStrategy) *v1.CorrectionPolicy {
	return &v1.CorrectionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1.CorrectionPolicySpec{Strategy: strategy},
	}
}

type cohortOption func(*v1.FineTuneCohort)

func withRange(lo, hi v1.Decimal) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.CTRRange = &v1.CTRRange{Min: lo, Max: hi} }
}

func withPool(p v1.Pool) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.Placement.Pool = p }
}

func withShards(n int32) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.Shards = n }
}

func withPolicy(name string) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.CorrectionPolicyRef = &v1.ObjectReference{Name: name} }
}

func withDataset(d v1.DatasetSpec) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.Dataset = d }
}

func withPodTemplate(t *v1.TrainerPodTemplate) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.PodTemplate = t }
}

func cohortObj(ns, name, model string, opts ...cohortOption) *v1.FineTuneCohort {
	c := &v1.FineTuneCohort{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.FineTuneCohortSpec{
			GlobalModelRef: v1.ObjectReference{Name: model},
			Dataset:        testData(),
			MinSamples:     5,
			Mode:           v1.ModePerUser,
			FineTuning:     v1.FineTuningSpec{Optimizer: v1.OptimizerSGD, LearningRate: "0.05", LearningRateDecay: "1", Epochs: 1, BatchSize: 16, Seed: 1},
			Shards:         1,
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

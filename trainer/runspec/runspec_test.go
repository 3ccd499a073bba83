package runspec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validSpecs are run specs of every kind, as the controllers write them.
func validSpecs() map[string]*Spec {
	ds := Dataset{Format: "MovieLens", URI: "s3://data/ml-20m", PositiveThreshold: 4, HistoryLength: 20,
		Split: Split{Method: "PerUserFraction", TrainFraction: 0.8}}
	opt := Optimization{Optimizer: "SGD", LearningRate: 0.01, LearningRateDecay: 1, Epochs: 1, BatchSize: 32, Seed: 1}
	gm := &ModelArtifact{URI: "s3://models/wd/model.lcft", Digest: "sha256:" + strings.Repeat("a", 64), GlobalCTR: 0.3}
	return map[string]*Spec{
		"pretrain": {Version: Version, Kind: KindPretrain, Name: "ns/gm",
			Dataset: Dataset{Format: "Synthetic", HistoryLength: 20, Synthetic: &Synthetic{Users: 500, Items: 1000, Categories: 20, SamplesPerUser: 60, GlobalCTR: 0.3, Drift: 0.6, Seed: 1},
				Split: Split{Method: "Timestamp", Timestamp: 1700000000}},
			Model:        &Model{Architecture: "WideDeep", EmbeddingDim: 16, HiddenUnits: []int{64, 32}},
			Optimization: Optimization{Optimizer: "SGD", LearningRate: 1, LearningRateDecay: 0.1, Epochs: 2, BatchSize: 32, Seed: 1},
			OutputURI:    "s3://models/wd", Shards: 1, WritePartitions: true},
		"verify": {Version: Version, Kind: KindVerify, Name: "ns/imported", GlobalModel: gm, Optimization: opt, OutputURI: "s3://models/imported", Shards: 1},
		"finetune": {Version: Version, Kind: KindFinetune, Name: "ns/ftc",
			Dataset: Dataset{Format: ds.Format, URI: ds.URI, PositiveThreshold: 4, HistoryLength: 20, Split: ds.Split,
				Partitions: &Partitions{ManifestURI: "s3://models/wd/partitions/manifest.json", DatasetDigest: "sha256:bb"}},
			GlobalModel: gm, Optimization: Optimization{Optimizer: "Adam", LearningRate: 0.001, LearningRateDecay: 1, Epochs: 3, BatchSize: 16, Seed: 7, Scope: ScopeSparse},
			Correction: &Correction{Strategy: "Hard", Groups: []LabelGroup{{Min: 0, Max: 0.3, Positive: 2, Negative: 0}, {Min: 0.3, Max: 1, Positive: 1, Negative: -0.5}}},
			Cohort:     &Cohort{MinCTR: 0, MaxCTR: 1, MinSamples: 5, Mode: "PerUser", UserModels: UserModelsDeltas},
			OutputURI:  "s3://runs/ns/ftc/2", Shards: 8},
		"search": {Version: Version, Kind: KindSearch, Name: "ns/pol", Dataset: ds,
			GlobalModel: &ModelArtifact{URI: gm.URI, Digest: gm.Digest, GlobalCTR: gm.GlobalCTR, HoldoutFraction: 0.2, HoldoutSamples: 4000}, Optimization: opt,
			Search:    &Search{Boundaries: []float64{0.3, 0.6}, PositiveLabels: []float64{1, 2}, NegativeLabels: []float64{0, -1}, ValidationFraction: 0.2, MinSamples: 5, Seeds: []int64{1, 2}},
			OutputURI: "s3://runs/ns/pol/1", Shards: 3},
		"distill": {Version: Version, Kind: KindPretrain, Name: "ns/gm2", Dataset: ds,
			Model:        &Model{Architecture: "WideDeep", EmbeddingDim: 16, HiddenUnits: []int{64, 32}},
			Optimization: Optimization{Optimizer: "SGD", LearningRate: 0.1, LearningRateDecay: 1, Epochs: 1, BatchSize: 32, Seed: 1},
			Distill: &Distill{Predecessor: *gm, Weight: 0.5, LongTailShare: 0.3, Teachers: []Teacher{
				{Name: "ns/low", UserModels: []ModelArtifact{{URI: "s3://runs/ns/low/3/user-models-shard-0.lcftu"}}},
				{Name: "ns/high", GroupModel: &ModelArtifact{URI: "s3://runs/ns/high/2/group-model.lcft", Digest: gm.Digest}, Cohort: &Cohort{MinCTR: 0.6, MaxCTR: 1, MinSamples: 5, Mode: "Pooled"}},
			}},
			OutputURI: "s3://models/gm2", Shards: 1},
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for name, want := range validSpecs() {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(strings.NewReader(string(b) + "\n"))
			if err != nil {
				t.Fatalf("decoding %s: %v", b, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// specJSON returns a valid finetune spec's JSON with change applied.
func specJSON(t *testing.T, change func(*Spec)) string {
	t.Helper()
	s := validSpecs()["finetune"]
	change(s)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeRefusesBadSpecs(t *testing.T) {
	cases := []struct {
		name, spec, want string
	}{
		{"empty", "", "decoding run spec: EOF"},
		{"not JSON", "kind: finetune", "invalid character"},
		{"unknown field", strings.Replace(specJSON(t, func(*Spec) {}), `"version":1`, `"version":1,"shardz":3`, 1), `unknown field "shardz"`},
		{"two objects", specJSON(t, func(*Spec) {}) + specJSON(t, func(*Spec) {}), "data after the spec's JSON object"},
		{"trailing garbage", specJSON(t, func(*Spec) {}) + " ]", "data after the spec's JSON object"},
		{"other version", specJSON(t, func(s *Spec) { s.Version = 2 }), "version 2 is not supported"},
		{"unknown kind", specJSON(t, func(s *Spec) { s.Kind = "train" }), `kind "train" is not one of`},
		{"finetune without cohort", specJSON(t, func(s *Spec) { s.Cohort = nil }), "globalModel, cohort and correction are required"},
		{"pretrain without model", specJSON(t, func(s *Spec) { s.Kind = KindPretrain; s.Optimization.Scope = "" }), "model is required for kind pretrain"},
		{"verify without digest", specJSON(t, func(s *Spec) { s.Kind = KindVerify; s.GlobalModel.Digest = "" }), "globalModel with a digest is required"},
		{"search without search", specJSON(t, func(s *Spec) { s.Kind = KindSearch }), "globalModel and search are required"},
		{"no output", specJSON(t, func(s *Spec) { s.OutputURI = "" }), "outputURI is required"},
		{"no shards", specJSON(t, func(s *Spec) { s.Shards = 0 }), "shards must be at least 1, got 0"},
		{"learning rate zero", specJSON(t, func(s *Spec) { s.Optimization.LearningRate = 0 }), "learningRate > 0"},
		{"learning rate above the bound", specJSON(t, func(s *Spec) { s.Optimization.LearningRate = 11 }), "learningRate 11 is above 10"},
		{"too many epochs", specJSON(t, func(s *Spec) { s.Optimization.Epochs = MaxEpochs + 1 }), "epochs 1001 is above 1000"},
		{"unknown scope", specJSON(t, func(s *Spec) { s.Optimization.Scope = "Dense" }), `scope "Dense" is not one of`},
		{"sparse pretraining", specJSON(t, func(s *Spec) { s.Kind = KindPretrain; s.Model = &Model{Architecture: "LR"} }), "scope Sparse is for fine-tuning"},
		{"patch pretraining", specJSON(t, func(s *Spec) {
			s.Kind = KindPretrain
			s.Model = &Model{Architecture: "LR"}
			s.Optimization.Scope = ScopePatch
		}), "scope Patch is for fine-tuning"},
		{"patch of a pooled cohort", specJSON(t, func(s *Spec) {
			s.Cohort.Mode, s.Cohort.UserModels = "Pooled", UserModelsNone
			s.Optimization.Scope = ScopePatch
		}), "scope Patch needs cohort mode PerUser"},
		{"deltas of a pooled cohort", specJSON(t, func(s *Spec) { s.Cohort.Mode = "Pooled" }), "userModels Deltas needs mode PerUser"},
		{"unknown user models", specJSON(t, func(s *Spec) { s.Cohort.UserModels = "Full" }), `userModels "Full" is not one of`},
		{"hard label beyond the bound", specJSON(t, func(s *Spec) { s.Correction.Groups[1].Negative = -101 }), "correction group 1 negative label -101 is outside [-100, 100]"},
		{"search label beyond the bound", specJSON(t, func(s *Spec) { s.Search = &Search{PositiveLabels: []float64{1, 250}} }), "search positive label 250 is outside"},
		{"float overflow", strings.Replace(specJSON(t, func(*Spec) {}), `"learningRate":0.001`, `"learningRate":1e999`, 1), "cannot unmarshal number 1e999"},
		{"wrong type", strings.Replace(specJSON(t, func(*Spec) {}), `"shards":8`, `"shards":"8"`, 1), "cannot unmarshal string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Decode(strings.NewReader(tc.spec))
			if err == nil {
				t.Fatalf("accepted %s as %+v", tc.spec, s)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	s := &Spec{Version: 3, Kind: KindFinetune}
	err := s.Validate()
	if err == nil {
		t.Fatal("an empty finetune spec is valid")
	}
	for _, want := range []string{"version 3", "globalModel, cohort and correction", "outputURI is required", "shards must be at least 1", "optimization needs epochs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
}

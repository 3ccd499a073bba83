package runner

import (
	"context"
	"fmt"
	"io"

	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// GroupModelFile is the name of a Pooled cohort's fine-tuned model inside
// the run's OutputURI.
const GroupModelFile = "group-model.lcft"

// GroupModel describes the group model a Pooled run saved.
type GroupModel struct {
	URI    string `json:"uri"`
	Digest string `json:"digest"` // sha256:<hex> of the file
	// Labels the model was fine-tuned with (the cohort strategy's pooled
	// labels).
	Positive float64 `json:"positive"`
	Negative float64 `json:"negative"`
	// Diverged, when set, says why the pooled fine-tuning diverged: the
	// file then holds the global model (RolledBack), byte for byte as the
	// global model saves, which is what the group's devices keep.
	RolledBack bool   `json:"rolledBack,omitempty"`
	Diverged   string `json:"diverged,omitempty"`
}

// saveGroupModel writes a Pooled cohort's model: the fine-tuned replica,
// with the global model's vocabulary (the rows are the same) and the
// digest of the cohort's dataset (the data it was last trained on), or,
// when the fine-tuning diverged, the global model itself. The artifact is
// format 2, so a GlobalModel can import it and later runs map ids through
// its vocabulary.
func saveGroupModel(ctx context.Context, outputURI string, base *model.Model, arm pooledArm, datasetDigest string) (*GroupModel, error) {
	uri := storage.Join(outputURI, GroupModelFile)
	gm := &GroupModel{URI: uri, RolledBack: arm.rep == nil, Diverged: arm.diverged}
	var digest string
	err := storage.Write(ctx, uri, func(w io.Writer) error {
		var err error
		if arm.rep == nil {
			digest, err = base.Save(w)
			return err
		}
		digest, err = arm.rep.SaveWithProvenance(w, model.Provenance{Vocab: base.Provenance().Vocab, DatasetDigest: datasetDigest})
		return err
	})
	if err != nil {
		return nil, storageError(err, "saving the group model")
	}
	gm.Digest = fmtDigest(digest)
	return gm, nil
}

// savedModel is the summary's view of a group model.
func (g *GroupModel) savedModel() *runspec.SavedModel {
	if g == nil {
		return nil
	}
	return &runspec.SavedModel{URI: g.URI, Digest: g.Digest, RolledBack: g.RolledBack}
}

// String is for logs.
func (g *GroupModel) String() string {
	s := fmt.Sprintf("%s (%s), labels (%.4g, %.4g)", g.URI, g.Digest, g.Positive, g.Negative)
	if g.RolledBack {
		s += ": the pooled fine-tuning diverged, the file holds the global model"
	}
	return s
}

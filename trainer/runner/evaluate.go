package runner

import (
	"context"
	"io"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Evaluation is the Cloud (no fine-tuning) user-level AUC of a model on a
// dataset's test split.
type Evaluation struct {
	ModelURI         string  `json:"modelURI"`
	Digest           string  `json:"digest"`
	Architecture     string  `json:"architecture"`
	AUC              Float   `json:"auc"`         // sum n_u*AUC_u / sum n_u; null without scored users
	Users            int     `json:"users"`       // test users with a two-class test set
	SingleClassUsers int     `json:"singleClass"` // test users left out
	TestSamples      int     `json:"testSamples"`
	Seconds          float64 `json:"seconds"`
}

// Evaluate scores the model at spec.GlobalModel (digest checked when set)
// on the test split of spec.Dataset. Only those two fields of spec are
// used.
func Evaluate(ctx context.Context, spec *runspec.Spec, progress io.Writer) (*Evaluation, error) {
	start := time.Now()
	if spec == nil || spec.GlobalModel == nil {
		return nil, badInput("evaluate needs a global model")
	}
	lg := newLogger(progress, "[evaluate]")
	m, digest, err := LoadModel(ctx, spec.GlobalModel)
	if err != nil {
		return nil, err
	}
	sp, err := modelData(ctx, m, spec.Dataset, nil, lg)
	if err != nil {
		return nil, err
	}
	ev, err := evalCloud(m, sp.test)
	if err != nil {
		return nil, err
	}
	lg.printf("%s on %d test samples: user-level AUC %.5f over %d users (%d single-class)", spec.GlobalModel.URI, ev.Samples, ev.AUC, ev.Users, ev.SingleClassUsers)
	return &Evaluation{
		ModelURI: spec.GlobalModel.URI, Digest: digest, Architecture: m.Config().Arch,
		AUC: Float(ev.AUC), Users: ev.Users, SingleClassUsers: ev.SingleClassUsers, TestSamples: ev.Samples,
		Seconds: time.Since(start).Seconds(),
	}, nil
}

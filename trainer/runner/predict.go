package runner

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// PredictHeader is the header of Predict's output CSV: raw user and item
// ids, the row's timestamp and the model's click probability.
var PredictHeader = []string{"user", "item", "timestamp", "score"}

// PredictSpec is what Predict scores with what.
type PredictSpec struct {
	// Model is the artifact to score with (digest checked when set). It
	// must carry a vocabulary (format 2): raw ids are mapped through it.
	Model runspec.ModelArtifact
	// Dataset holds the rows to score (Samples: canonical CSV or Parquet;
	// MovieLens). Its split is ignored: every row is scored. HistoryLength
	// 0 means the model's.
	Dataset runspec.Dataset
	// OutputURI receives the scores as CSV (PredictHeader).
	OutputURI string
	// UserModelsURI, when set, is a user-models file (a PerUser run's
	// user-models-shard-<i>.lcftu) made from Model: each user it holds is
	// scored with the global model plus that user's delta.
	UserModelsURI string
}

// Prediction describes a Predict run.
type Prediction struct {
	ModelURI      string `json:"modelURI"`
	ModelDigest   string `json:"modelDigest"`
	Architecture  string `json:"architecture"`
	DatasetDigest string `json:"datasetDigest"`
	OutputURI     string `json:"outputURI"`
	Rows          int    `json:"rows"`  // scored and written
	Users         int    `json:"users"` // distinct users among them
	// OOV counts what the model's vocabulary left out: rows dropped
	// (unknown user or item, not scored) and distinct unknown ids.
	OOV data.OOV `json:"outOfVocabulary"`
	// PersonalUsers were scored with their own model (the global model
	// plus their delta); RolledBackUsers are in the user-models file but
	// keep the global model (their fine-tuning diverged).
	PersonalUsers   int     `json:"personalUsers,omitempty"`
	RolledBackUsers int     `json:"rolledBackUsers,omitempty"`
	Seconds         float64 `json:"seconds"`
}

// Predict scores every row of spec.Dataset with the model, as a serving
// system would: ids are mapped through the model's vocabulary, and each
// row's positive and negative histories come from the same user's earlier
// rows (data's order: user, timestamp, item), exactly as in training and
// evaluation. Rows whose user or item the model never saw are not scored
// and are counted in OOV; unknown categories are left out of their item's
// list. The output lists the scored rows in that order with the click
// probability sigmoid(logit), written as the shortest decimal that reads
// back as the same float32.
func Predict(ctx context.Context, spec PredictSpec, progress io.Writer) (*Prediction, error) {
	start := time.Now()
	lg := newLogger(progress, "[predict]")
	if spec.OutputURI == "" {
		return nil, badInput("predict needs an output URI")
	}
	if spec.Dataset.Format == FormatSynthetic {
		return nil, badInput("predict scores rows of a file (format %s or %s), not synthetic data", FormatSamples, FormatMovieLens)
	}
	m, digest, err := LoadModel(ctx, &spec.Model)
	if err != nil {
		return nil, err
	}
	vocab := m.Provenance().Vocab
	if vocab == nil {
		return nil, badInput("model %s has no vocabulary (a format 1 artifact): predict cannot map raw ids to its rows", spec.Model.URI)
	}
	d := spec.Dataset
	if d.HistoryLength == 0 {
		d.HistoryLength = m.Schema().HistoryLen
	}
	ds, dsDigest, err := LoadDataset(ctx, d, data.Selection{Vocab: vocab})
	if err != nil {
		return nil, err
	}
	if o := ds.OOV; o.Samples > 0 || o.Categories > 0 {
		lg.printf("out of the model's vocabulary: %d rows not scored (%d users, %d items unknown), %d categories unknown", o.Samples, o.Users, o.Items, o.Categories)
	}
	var um *UserModels
	if spec.UserModelsURI != "" {
		if um, err = ReadUserModels(ctx, spec.UserModelsURI); err != nil {
			return nil, err
		}
		if um.Header.ModelDigest != digest {
			return nil, badInput("the user models %s were made from the model %s, not %s (%s)", spec.UserModelsURI, um.Header.ModelDigest, spec.Model.URI, digest)
		}
	}
	logits := make([]float32, len(ds.Samples))
	personal, rolledBack, err := scoreRows(m, um, ds, logits)
	if err != nil {
		return nil, err
	}
	err = storage.Write(ctx, spec.OutputURI, func(w io.Writer) error {
		return writeScores(w, ds, logits)
	})
	if err != nil {
		return nil, storageError(err, "writing the scores")
	}
	p := &Prediction{
		ModelURI: spec.Model.URI, ModelDigest: digest, Architecture: m.Config().Arch, DatasetDigest: dsDigest, OutputURI: spec.OutputURI,
		Rows: len(ds.Samples), Users: len(data.UserRanges(ds)), OOV: ds.OOV, PersonalUsers: personal, RolledBackUsers: rolledBack,
		Seconds: time.Since(start).Seconds(),
	}
	lg.printf("scored %d rows of %d users with %s (%s) into %s", p.Rows, p.Users, spec.Model.URI, digest, spec.OutputURI)
	return p, nil
}

// scoreRows writes the logits of ds's samples: with the global model m, or,
// for the users um holds, with m plus the user's delta. It returns how many
// users were scored with their own model and how many um holds as rolled
// back.
func scoreRows(m *model.Model, um *UserModels, ds *data.Dataset, logits []float32) (personal, rolledBack int, err error) {
	if um == nil {
		if err := m.Predict(ds.Samples, logits); err != nil {
			return 0, 0, badInput("scoring: %w", err)
		}
		return 0, 0, nil
	}
	rep, err := m.Fork()
	if err != nil {
		return 0, 0, fmt.Errorf("forking the model: %w", err)
	}
	for _, r := range data.UserRanges(ds) {
		raw := ds.Vocab.Users.Name(r.User)
		d, ok, err := um.Delta(raw, m)
		if err != nil {
			return 0, 0, err
		}
		scorer := m
		switch {
		case ok && d != nil:
			if err := rep.ApplyDelta(d); err != nil {
				return 0, 0, badInput("user %q: %w", raw, err)
			}
			scorer = rep.Model
			personal++
		case ok:
			rolledBack++
		}
		if err := scorer.Predict(ds.Samples[r.Start:r.End], logits[r.Start:r.End]); err != nil {
			return 0, 0, badInput("scoring user %q: %w", raw, err)
		}
	}
	return personal, rolledBack, nil
}

// writeScores writes the scored rows as CSV with the dataset's raw ids
// (quoted where CSV needs it).
func writeScores(w io.Writer, ds *data.Dataset, logits []float32) error {
	cw := csv.NewWriter(w) // buffered; Flush below
	if err := cw.Write(PredictHeader); err != nil {
		return fmt.Errorf("writing scores: %w", err)
	}
	row := make([]string, len(PredictHeader))
	for i := range ds.Samples {
		s := &ds.Samples[i]
		row[0], row[1] = ds.Vocab.Users.Name(s.User), ds.Vocab.Items.Name(s.Item)
		row[2] = strconv.FormatInt(s.Timestamp, 10)
		row[3] = strconv.FormatFloat(float64(model.Sigmoid(logits[i])), 'g', -1, 32)
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("writing scores: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing scores: %w", err)
	}
	return nil
}

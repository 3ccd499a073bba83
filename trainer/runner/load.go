package runner

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// Dataset formats of runspec.Dataset.Format.
const (
	FormatMovieLens = "MovieLens" // URI is a directory with ratings.csv and movies.csv
	FormatSamples   = "Samples"   // URI is one canonical samples CSV (data.CanonicalHeader)
	FormatSynthetic = "Synthetic" // generated from Dataset.Synthetic; URI unused
)

// Split methods of runspec.Split.Method.
const (
	SplitPerUserFraction = "PerUserFraction" // the default
	SplitTimestamp       = "Timestamp"
)

// DefaultTrainFraction is the per-user chronological train share used when
// a PerUserFraction split leaves TrainFraction at 0.
const DefaultTrainFraction = 0.8

// readInput opens uri and parses it with parse, classifying failures.
func readInput(ctx context.Context, uri, what string, parse func(in data.Input, r *ioErrReader) error) error {
	rc, err := storage.Open(ctx, uri)
	if err != nil {
		return storageError(err, "opening %s", what)
	}
	defer rc.Close()
	r := &ioErrReader{r: rc}
	return parse(data.Input{Name: uri, Reader: bufio.NewReaderSize(r, 1<<16)}, r)
}

// LoadDataset reads or generates the dataset d describes (not split).
// Errors wrap ErrBadInput unless storage failed transiently.
func LoadDataset(ctx context.Context, d runspec.Dataset) (*data.Dataset, error) {
	if d.HistoryLength < 0 {
		return nil, badInput("dataset historyLength %d is negative", d.HistoryLength)
	}
	switch d.Format {
	case FormatMovieLens:
		if d.URI == "" {
			return nil, badInput("dataset format MovieLens needs a uri (a directory with ratings.csv and movies.csv)")
		}
		ratingsURI, moviesURI := storage.Join(d.URI, "ratings.csv"), storage.Join(d.URI, "movies.csv")
		var ds *data.Dataset
		err := readInput(ctx, ratingsURI, "MovieLens ratings", func(ratings data.Input, rr *ioErrReader) error {
			return readInput(ctx, moviesURI, "MovieLens movies", func(movies data.Input, mr *ioErrReader) error {
				var err error
				ds, err = data.ReadMovieLens(ratings, movies, data.MovieLensOptions{PositiveThreshold: d.PositiveThreshold, HistoryLen: d.HistoryLength})
				if err != nil {
					r := rr
					if mr.err != nil {
						r = mr
					}
					return classifyRead(r, err, "loading MovieLens data from %s", d.URI)
				}
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
		return checkLoaded(ds, d.URI)
	case FormatSamples:
		if d.URI == "" {
			return nil, badInput("dataset format Samples needs a uri (a canonical samples CSV)")
		}
		var ds *data.Dataset
		err := readInput(ctx, d.URI, "samples", func(in data.Input, r *ioErrReader) error {
			var err error
			ds, err = data.ReadCanonical(in, data.CanonicalOptions{HistoryLen: d.HistoryLength})
			if err != nil {
				return classifyRead(r, err, "loading samples from %s", d.URI)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return checkLoaded(ds, d.URI)
	case FormatSynthetic:
		if d.Synthetic == nil {
			return nil, badInput("dataset format Synthetic needs the synthetic generator's settings")
		}
		ds, err := data.Generate(SynthConfig(d.Synthetic, d.HistoryLength))
		if err != nil {
			return nil, badInput("generating synthetic data: %w", err)
		}
		return checkLoaded(ds, "synthetic data")
	default:
		return nil, badInput("dataset format %q is not one of %s, %s, %s", d.Format, FormatMovieLens, FormatSamples, FormatSynthetic)
	}
}

// SynthConfig is the generator configuration of a spec's synthetic
// dataset: data.DefaultSynthConfig with the spec's sizes, CTR, drift and
// seed. Zero sizes and a zero GlobalCTR keep the defaults; Drift and Seed
// are taken as given (0 is meaningful for both).
func SynthConfig(s *runspec.Synthetic, historyLen int) data.SynthConfig {
	cfg := data.DefaultSynthConfig()
	if s.Users != 0 {
		cfg.NumUsers = s.Users
	}
	if s.Items != 0 {
		cfg.NumItems = s.Items
	}
	if s.Categories != 0 {
		cfg.NumCategories = s.Categories
	}
	if s.SamplesPerUser != 0 {
		cfg.SamplesPerUser = s.SamplesPerUser
		cfg.MinSamplesPerUser = min(cfg.MinSamplesPerUser, s.SamplesPerUser)
	}
	if s.GlobalCTR != 0 {
		cfg.GlobalCTR = s.GlobalCTR
	}
	cfg.Drift = s.Drift
	cfg.Seed = s.Seed
	cfg.HistoryLen = historyLen
	return cfg
}

func checkLoaded(ds *data.Dataset, name string) (*data.Dataset, error) {
	if len(ds.Samples) == 0 {
		return nil, badInput("%s holds no samples", name)
	}
	return ds, nil
}

// SplitDataset splits ds into train and test as s says. An empty train
// split is bad input.
func SplitDataset(ds *data.Dataset, s runspec.Split) (train, test *data.Dataset, err error) {
	switch s.Method {
	case "", SplitPerUserFraction:
		f := s.TrainFraction
		if f == 0 {
			f = DefaultTrainFraction
		}
		train, test, err = data.SplitPerUserFraction(ds, f)
	case SplitTimestamp:
		train, test, err = data.SplitByTimestamp(ds, s.Timestamp)
	default:
		return nil, nil, badInput("split method %q is not one of %s, %s", s.Method, SplitPerUserFraction, SplitTimestamp)
	}
	if err != nil {
		return nil, nil, badInput("splitting the dataset: %w", err)
	}
	if len(train.Samples) == 0 {
		return nil, nil, badInput("the %s split leaves no training samples", orDefault(s.Method, SplitPerUserFraction))
	}
	return train, test, nil
}

// loadSplit loads and splits the dataset of spec.
func loadSplit(ctx context.Context, d runspec.Dataset) (all, train, test *data.Dataset, err error) {
	all, err = LoadDataset(ctx, d)
	if err != nil {
		return nil, nil, nil, err
	}
	train, test, err = SplitDataset(all, d.Split)
	if err != nil {
		return nil, nil, nil, err
	}
	return all, train, test, nil
}

// DigestPrefix starts every model digest: "sha256:" and 64 hex digits.
const DigestPrefix = "sha256:"

// LoadModel reads the model artifact at a.URI and returns it with the
// sha256 digest of its bytes ("sha256:<hex>"). When a.Digest is set, a
// different digest is bad input, as is an artifact that does not load.
func LoadModel(ctx context.Context, a *runspec.ModelArtifact) (*model.Model, string, error) {
	if a == nil || a.URI == "" {
		return nil, "", badInput("no global model artifact URI")
	}
	var want string
	if a.Digest != "" {
		hexPart, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(a.Digest)), DigestPrefix)
		if !ok || len(hexPart) != 2*sha256.Size {
			return nil, "", badInput("global model digest %q is not of the form sha256:<64 hex digits>", a.Digest)
		}
		if _, err := hex.DecodeString(hexPart); err != nil {
			return nil, "", badInput("global model digest %q is not of the form sha256:<64 hex digits>", a.Digest)
		}
		want = DigestPrefix + hexPart
	}
	rc, err := storage.Open(ctx, a.URI)
	if err != nil {
		return nil, "", storageError(err, "opening the global model")
	}
	defer rc.Close()
	r := &ioErrReader{r: rc}
	h := sha256.New()
	// Load reads to the end of the artifact, so h sees every byte.
	m, err := model.Load(bufio.NewReaderSize(io.TeeReader(r, h), 1<<20))
	if err != nil {
		return nil, "", classifyRead(r, err, "loading the global model %s", a.URI)
	}
	got := DigestPrefix + hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return nil, "", badInput("global model %s has digest %s, the spec expects %s", a.URI, got, want)
	}
	return m, got, nil
}

// checkSchema checks that a dataset's dense ids fit the model. Datasets
// loaded from the same source as the pretraining data have the same dense
// ids (they follow first appearance), hence the same sizes; other sizes
// mean another dataset, whose ids would index the wrong embeddings.
func checkSchema(m *model.Model, ds *data.Dataset) error {
	ms, dsch := m.Schema(), ds.Schema
	if ms.NumUsers != dsch.NumUsers || ms.NumItems != dsch.NumItems || ms.NumCategories != dsch.NumCategories {
		return badInput("the dataset (users %d, items %d, categories %d) is not the one the global model was trained on (users %d, items %d, categories %d)",
			dsch.NumUsers, dsch.NumItems, dsch.NumCategories, ms.NumUsers, ms.NumItems, ms.NumCategories)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fmtDigest formats a model.Save digest (bare hex) as "sha256:<hex>".
func fmtDigest(hexDigest string) string { return fmt.Sprintf("%s%s", DigestPrefix, hexDigest) }

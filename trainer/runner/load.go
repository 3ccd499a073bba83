package runner

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"path"
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
	// FormatAmazon: URI is a directory with the Amazon reviews and metadata
	// files (data.AmazonReviewsFile, data.AmazonMetadataFile, each plain or
	// .gz); negatives are sampled (Dataset.Negatives).
	FormatAmazon = "Amazon"
	// FormatImplicit: URI is one implicit-feedback log, CSV or Parquet
	// (data.ImplicitHeader); negatives are sampled (Dataset.Negatives).
	FormatImplicit = "Implicit"
)

// Split methods of runspec.Split.Method.
const (
	SplitPerUserFraction = "PerUserFraction" // the default
	SplitTimestamp       = "Timestamp"
)

// DefaultTrainFraction is the per-user chronological train share used when
// a PerUserFraction split leaves TrainFraction at 0.
const DefaultTrainFraction = 0.8

// input is one file of a dataset being read: the reader the parser sees
// (which records storage errors) and the digest of every byte it read.
type input struct {
	r    *ioErrReader
	hash hash.Hash
	name string // file name inside the dataset, for the combined digest
}

// sum drains what the parser left unread (so the digest covers the whole
// file) and returns the file's sha256 in hex.
func (in *input) sum() (string, error) {
	if _, err := io.Copy(in.hash, in.r); err != nil {
		return "", err
	}
	return hex.EncodeToString(in.hash.Sum(nil)), nil
}

// readInput opens uri and parses it with parse, classifying failures, and
// returns the sha256 (hex) of the file's bytes.
func readInput(ctx context.Context, uri, what string, parse func(in data.Input, src *input) error) (string, error) {
	rc, err := storage.Open(ctx, uri)
	if err != nil {
		return "", storageError(err, "opening %s", what)
	}
	defer rc.Close()
	h := sha256.New()
	src := &input{r: &ioErrReader{r: io.TeeReader(rc, h)}, hash: h}
	if err := parse(data.Input{Name: uri, Reader: bufio.NewReaderSize(src.r, 1<<16)}, src); err != nil {
		return "", err
	}
	sum, err := src.sum()
	if err != nil {
		return "", storageError(err, "reading %s", what)
	}
	return sum, nil
}

// combineDigests is the digest of a dataset made of several files: the
// sha256 of the lines "<name> <sha256 hex>\n" in the given order; a single
// file's digest is its own sha256.
func combineDigests(names, sums []string) string {
	if len(sums) == 1 {
		return DigestPrefix + sums[0]
	}
	h := sha256.New()
	for i := range sums {
		fmt.Fprintf(h, "%s %s\n", names[i], sums[i])
	}
	return DigestPrefix + hex.EncodeToString(h.Sum(nil))
}

// movieLensFile finds name.csv or name.parquet in the MovieLens directory
// dir (CSV first).
func movieLensFile(ctx context.Context, dir, name string) (string, error) {
	return firstFile(ctx, dir, "MovieLens", name+".csv", name+".parquet")
}

// LoadDataset reads or generates the dataset d describes (not split),
// keeping what sel selects, and returns it with its digest: the sha256 of
// the files read ("sha256:<hex>"; see combineDigests), or of the
// generator's settings for synthetic data. Errors wrap ErrBadInput unless
// storage failed transiently.
func LoadDataset(ctx context.Context, d runspec.Dataset, sel data.Selection) (*data.Dataset, string, error) {
	if d.HistoryLength < 0 {
		return nil, "", badInput("dataset historyLength %d is negative", d.HistoryLength)
	}
	switch d.Format {
	case FormatMovieLens:
		if d.URI == "" {
			return nil, "", badInput("dataset format MovieLens needs a uri (a directory with ratings.csv and movies.csv, or .parquet)")
		}
		ratingsURI, err := movieLensFile(ctx, d.URI, "ratings")
		if err != nil {
			return nil, "", err
		}
		moviesURI, err := movieLensFile(ctx, d.URI, "movies")
		if err != nil {
			return nil, "", err
		}
		var ds *data.Dataset
		var moviesSum string
		ratingsSum, err := readInput(ctx, ratingsURI, "MovieLens ratings", func(ratings data.Input, rs *input) error {
			var err error
			moviesSum, err = readInput(ctx, moviesURI, "MovieLens movies", func(movies data.Input, ms *input) error {
				var err error
				ds, err = data.ReadMovieLens(ratings, movies, data.MovieLensOptions{PositiveThreshold: d.PositiveThreshold, HistoryLen: d.HistoryLength, Selection: sel})
				if err != nil {
					r := rs.r
					if ms.r.err != nil {
						r = ms.r
					}
					return classifyRead(r, err, "loading MovieLens data from %s", d.URI)
				}
				return nil
			})
			return err
		})
		if err != nil {
			return nil, "", err
		}
		digest := combineDigests([]string{path.Base(ratingsURI), path.Base(moviesURI)}, []string{ratingsSum, moviesSum})
		return checkLoaded(ds, sel, d.URI, digest)
	case FormatSamples:
		if d.URI == "" {
			return nil, "", badInput("dataset format Samples needs a uri (a canonical samples CSV or Parquet file)")
		}
		var ds *data.Dataset
		sum, err := readInput(ctx, d.URI, "samples", func(in data.Input, src *input) error {
			var err error
			ds, err = data.ReadCanonical(in, data.CanonicalOptions{HistoryLen: d.HistoryLength, Selection: sel})
			if err != nil {
				return classifyRead(src.r, err, "loading samples from %s", d.URI)
			}
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		return checkLoaded(ds, sel, d.URI, DigestPrefix+sum)
	case FormatAmazon:
		return loadAmazon(ctx, d, sel)
	case FormatImplicit:
		return loadImplicit(ctx, d, sel)
	case FormatSynthetic:
		if d.Synthetic == nil {
			return nil, "", badInput("dataset format Synthetic needs the synthetic generator's settings")
		}
		cfg := SynthConfig(d.Synthetic, d.HistoryLength)
		ds, err := data.Generate(cfg)
		if err != nil {
			return nil, "", badInput("generating synthetic data: %w", err)
		}
		ds, err = selectGenerated(ds, sel)
		if err != nil {
			return nil, "", err
		}
		settings, err := json.Marshal(cfg)
		if err != nil {
			return nil, "", fmt.Errorf("encoding the generator settings: %w", err)
		}
		sum := sha256.Sum256(settings)
		return checkLoaded(ds, sel, "synthetic data", DigestPrefix+hex.EncodeToString(sum[:]))
	default:
		return nil, "", badInput("dataset format %q is not one of %s, %s, %s, %s, %s", d.Format, FormatMovieLens, FormatSamples, FormatSynthetic, FormatAmazon, FormatImplicit)
	}
}

// selectGenerated applies sel to generated data: it keeps the selected
// users' samples and, with a fixed vocabulary, requires the generator's ids
// to be the vocabulary's (the same settings give the same ids).
func selectGenerated(ds *data.Dataset, sel data.Selection) (*data.Dataset, error) {
	if v := sel.Vocab; v != nil {
		if v.Users.Len() != ds.Schema.NumUsers || v.Items.Len() != ds.Schema.NumItems || v.Categories.Len() != ds.Schema.NumCategories {
			return nil, badInput("the synthetic data (users %d, items %d, categories %d) is not the one the global model was trained on (users %d, items %d, categories %d)",
				ds.Schema.NumUsers, ds.Schema.NumItems, ds.Schema.NumCategories, v.Users.Len(), v.Items.Len(), v.Categories.Len())
		}
		for id := range v.Users.Len() {
			if v.Users.Name(int32(id)) != ds.Vocab.Users.Name(int32(id)) {
				return nil, badInput("the synthetic data's user %d is %q, the global model's %q: not the data it was trained on", id, ds.Vocab.Users.Name(int32(id)), v.Users.Name(int32(id)))
			}
		}
	}
	if sel.KeepUser == nil {
		return ds, nil
	}
	kept := ds.Samples[:0]
	for _, x := range ds.Samples {
		if sel.KeepUser(ds.Vocab.Users.Name(x.User)) {
			kept = append(kept, x)
		}
	}
	ds.Samples = kept
	return ds, nil
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
	cfg.MinorityShare = s.MinorityShare
	cfg.HistoryLen = historyLen
	return cfg
}

// checkLoaded refuses a dataset without samples, unless sel's user filter
// explains it (a shard can have no users).
func checkLoaded(ds *data.Dataset, sel data.Selection, name, digest string) (*data.Dataset, string, error) {
	switch {
	case len(ds.Samples) > 0 || sel.KeepUser != nil && ds.OOV.Samples == 0:
		return ds, digest, nil
	case ds.OOV.Samples > 0:
		return nil, "", badInput("none of the %d samples of %s is in the global model's vocabulary (%d users and %d items unknown): not the data it was trained on",
			ds.OOV.Samples, name, ds.OOV.Users, ds.OOV.Items)
	default:
		return nil, "", badInput("%s holds no samples", name)
	}
}

// SplitDataset splits ds into train and test as s says, leaving ds as it
// was. An empty train split is bad input.
func SplitDataset(ds *data.Dataset, s runspec.Split) (train, test *data.Dataset, err error) {
	return splitDataset(ds, s, false)
}

// splitDataset is SplitDataset, in place (ds unusable afterwards, no copy
// of the samples) when inPlace.
func splitDataset(ds *data.Dataset, s runspec.Split, inPlace bool) (train, test *data.Dataset, err error) {
	byTime := false
	f := s.TrainFraction
	switch s.Method {
	case "", SplitPerUserFraction:
		if f == 0 {
			f = DefaultTrainFraction
		}
	case SplitTimestamp:
		byTime = true
	default:
		return nil, nil, badInput("split method %q is not one of %s, %s", s.Method, SplitPerUserFraction, SplitTimestamp)
	}
	switch {
	case inPlace:
		train, test, err = data.SplitInPlace(ds, byTime, s.Timestamp, f)
	case byTime:
		train, test, err = data.SplitByTimestamp(ds, s.Timestamp)
	default:
		train, test, err = data.SplitPerUserFraction(ds, f)
	}
	if err != nil {
		return nil, nil, badInput("splitting the dataset: %w", err)
	}
	if len(train.Samples) == 0 && len(test.Samples) > 0 {
		return nil, nil, badInput("the %s split leaves no training samples", orDefault(s.Method, SplitPerUserFraction))
	}
	return train, test, nil
}

// split is a loaded and split dataset.
type split struct {
	train, test *data.Dataset
	digest      string   // of the dataset (see LoadDataset)
	oov         data.OOV // what the model's vocabulary left out
	bytesRead   int64    // of partition files; 0 when the source was read
}

// shardPick selects the users of one shard of a run; nil selects all.
type shardPick struct{ shard, shards int }

func (p *shardPick) keep() func(string) bool {
	if p == nil {
		return nil
	}
	return func(raw string) bool { return ShardOf(raw, p.shards) == p.shard }
}

// loadSplit loads the dataset d, keeping what sel selects (and, with pick,
// only that shard's users: from its partitions when d has them), and
// splits it in place.
func loadSplit(ctx context.Context, d runspec.Dataset, sel data.Selection, pick *shardPick) (*split, error) {
	sel.KeepUser = pick.keep()
	var all *data.Dataset
	var digest string
	var read int64
	var err error
	if d.Partitions != nil {
		shard, shards := 0, 0
		if pick != nil {
			shard, shards = pick.shard, pick.shards
		}
		all, digest, read, err = loadPartitions(ctx, d, shard, shards, sel)
	} else {
		all, digest, err = LoadDataset(ctx, d, sel)
	}
	if err != nil {
		return nil, err
	}
	train, test, err := splitDataset(all, DefaultSplit(d), true)
	if err != nil {
		return nil, err
	}
	if d.TestHistories == runspec.TestHistoriesTrainRows {
		data.FreezeHistories(test)
	}
	return &split{train: train, test: test, digest: digest, oov: all.OOV, bytesRead: read}, nil
}

// modelData loads d for model m: ids are mapped through the model's
// vocabulary (rows it never saw go to the out-of-vocabulary counts) and
// pick, when set, selects a shard's users. A model without a vocabulary
// (format 1 artifact) falls back to the data's own vocabulary, checked by
// sizes.
func modelData(ctx context.Context, m *model.Model, d runspec.Dataset, pick *shardPick, lg *logger) (*split, error) {
	v := m.Provenance().Vocab
	if v == nil && d.Partitions != nil {
		return nil, badInput("the global model's artifact has no vocabulary (format 1): it cannot read a partitioned dataset")
	}
	sp, err := loadSplit(ctx, d, data.Selection{Vocab: v}, pick)
	if err != nil {
		return nil, err
	}
	if d.Partitions != nil {
		lg.printf("read %d bytes of partitions of dataset %s (%s)", sp.bytesRead, sp.digest, d.Partitions.ManifestURI)
	}
	if v == nil {
		lg.printf("the model artifact has no vocabulary (format 1): dataset ids are matched by position, checked by counts only")
		if err := checkSchema(m, sp.train); err != nil {
			return nil, err
		}
	}
	if o := sp.oov; o.Samples > 0 || o.Categories > 0 {
		lg.printf("out of the model's vocabulary: %d samples dropped (%d users, %d items unknown), %d categories unknown", o.Samples, o.Users, o.Items, o.Categories)
	}
	return sp, nil
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

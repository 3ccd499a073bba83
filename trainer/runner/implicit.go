package runner

import (
	"context"
	"path"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// implicitOptions are the reader options of the implicit-feedback formats.
func implicitOptions(d runspec.Dataset, sel data.Selection) data.ImplicitOptions {
	o := data.ImplicitOptions{HistoryLen: d.HistoryLength, Selection: sel}
	if n := d.Negatives; n != nil {
		o.Negatives = data.NegativeOptions{PerPositive: n.PerPositive, Seed: n.Seed}
	}
	return o
}

// firstFile returns the first of names that exists in directory dir.
func firstFile(ctx context.Context, dir, what string, names ...string) (string, error) {
	for _, name := range names {
		uri := storage.Join(dir, name)
		ok, err := storage.Exists(ctx, uri)
		if err != nil {
			return "", storageError(err, "looking for %s", uri)
		}
		if ok {
			return uri, nil
		}
	}
	return "", badInput("the %s directory %s holds none of %s", what, dir, strings.Join(names, ", "))
}

// loadAmazon reads the Amazon reviews and metadata files of directory
// d.URI (each plain or .gz) and samples the negatives.
func loadAmazon(ctx context.Context, d runspec.Dataset, sel data.Selection) (*data.Dataset, string, error) {
	if d.URI == "" {
		return nil, "", badInput("dataset format Amazon needs a uri (a directory with %s and %s, or .gz)", data.AmazonReviewsFile, data.AmazonMetadataFile)
	}
	reviewsURI, err := firstFile(ctx, d.URI, "Amazon", data.AmazonReviewsFile, data.AmazonReviewsFile+".gz")
	if err != nil {
		return nil, "", err
	}
	metaURI, err := firstFile(ctx, d.URI, "Amazon", data.AmazonMetadataFile, data.AmazonMetadataFile+".gz")
	if err != nil {
		return nil, "", err
	}
	var ds *data.Dataset
	var metaSum string
	reviewsSum, err := readInput(ctx, reviewsURI, "Amazon reviews", func(reviews data.Input, rs *input) error {
		var err error
		metaSum, err = readInput(ctx, metaURI, "Amazon metadata", func(meta data.Input, ms *input) error {
			var err error
			ds, err = data.ReadAmazon(reviews, meta, implicitOptions(d, sel))
			if err != nil {
				r := rs.r
				if ms.r.err != nil {
					r = ms.r
				}
				return classifyRead(r, err, "loading Amazon data from %s", d.URI)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	digest := combineDigests([]string{path.Base(reviewsURI), path.Base(metaURI)}, []string{reviewsSum, metaSum})
	return checkLoaded(ds, sel, d.URI, digest)
}

// loadImplicit reads an implicit-feedback log (CSV or Parquet with
// data.ImplicitHeader) and samples the negatives.
func loadImplicit(ctx context.Context, d runspec.Dataset, sel data.Selection) (*data.Dataset, string, error) {
	if d.URI == "" {
		return nil, "", badInput("dataset format Implicit needs a uri (a CSV or Parquet file with columns user,item,timestamp,categories)")
	}
	var ds *data.Dataset
	sum, err := readInput(ctx, d.URI, "implicit feedback", func(in data.Input, src *input) error {
		var err error
		ds, err = data.ReadImplicit(in, implicitOptions(d, sel))
		if err != nil {
			return classifyRead(src.r, err, "loading implicit feedback from %s", d.URI)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return checkLoaded(ds, sel, d.URI, DigestPrefix+sum)
}

// DefaultSplit is the split of d when its spec leaves it open: the
// Amazon format splits at the paper's time (data.AmazonSplitTime) unless
// told otherwise.
func DefaultSplit(d runspec.Dataset) runspec.Split {
	s := d.Split
	if d.Format != FormatAmazon {
		return s
	}
	switch {
	case s.Method == "":
		return runspec.Split{Method: SplitTimestamp, Timestamp: data.AmazonSplitTime}
	case s.Method == SplitTimestamp && s.Timestamp == 0:
		s.Timestamp = data.AmazonSplitTime
	}
	return s
}

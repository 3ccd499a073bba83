package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// AmazonSplitTime is the paper's train/test split of Amazon Electronics:
// reviews before 2013-11-23 00:00 UTC train, the others test.
const AmazonSplitTime int64 = 1_385_078_400

// File names of the Amazon Electronics dataset (McAuley et al.), each
// plain or gzip-compressed.
const (
	AmazonReviewsFile  = "reviews_Electronics_5.json"
	AmazonMetadataFile = "meta_Electronics.json"
)

// LoadAmazon reads an Amazon reviews file and its metadata file from disk
// (each plain or gzip). See ReadAmazon.
func LoadAmazon(reviewsPath, metaPath string, opts ImplicitOptions) (*Dataset, error) {
	rf, err := openFile(reviewsPath)
	if err != nil {
		return nil, fmt.Errorf("loading Amazon reviews: %w", err)
	}
	defer rf.Close()
	mf, err := openFile(metaPath)
	if err != nil {
		return nil, fmt.Errorf("loading Amazon metadata: %w", err)
	}
	defer mf.Close()
	return ReadAmazon(Input{Name: reviewsPath, Reader: rf}, Input{Name: metaPath, Reader: mf}, opts)
}

// amazonReview holds the fields of a review line that are used.
type amazonReview struct {
	ReviewerID     *string `json:"reviewerID"`
	Asin           *string `json:"asin"`
	UnixReviewTime *int64  `json:"unixReviewTime"`
}

// amazonMeta holds the fields of a metadata line that are used.
type amazonMeta struct {
	Asin       *string    `json:"asin"`
	Categories [][]string `json:"categories"`
}

// ReadAmazon builds a Dataset from Amazon reviews (JSON lines with
// reviewerID, asin and unixReviewTime; other fields ignored) and metadata
// (one object per line with asin and categories, as strict JSON or as the
// Python dict literals of the original files). Both may be gzip-compressed
// (recognised by their magic bytes).
//
// Every review is a positive; negatives are sampled per user from the
// reviewed items the user never reviewed (see ImplicitOptions and
// NegativeOptions), each with the timestamp of the positive it was drawn
// for. An item's category is the last (most specific) entry of the last
// list of its categories; an item without metadata, or with empty
// categories, has none. Metadata of items nobody reviewed is ignored.
func ReadAmazon(reviews, meta Input, opts ImplicitOptions) (*Dataset, error) {
	lg := newImplicitLog(opts.Selection)
	if err := readAmazonReviews(reviews, lg); err != nil {
		return nil, err
	}
	if err := readAmazonMeta(meta, lg); err != nil {
		return nil, err
	}
	ds, err := lg.finish(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reviews.Name, err)
	}
	return ds, nil
}

func readAmazonReviews(in Input, lg *implicitLog) error {
	lr, err := openLines(in)
	if err != nil {
		return err
	}
	n := 0
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
		var r amazonReview
		if err := json.Unmarshal(line, &r); err != nil {
			return lr.errorf("not a JSON review: %v", err)
		}
		switch {
		case r.ReviewerID == nil:
			return lr.errorf("review lacks reviewerID")
		case r.Asin == nil:
			return lr.errorf("review lacks asin")
		case r.UnixReviewTime == nil:
			return lr.errorf("review lacks unixReviewTime")
		}
		if err := checkID("reviewerID", *r.ReviewerID); err != nil {
			return lr.errorf("%w", err)
		}
		if err := checkID("asin", *r.Asin); err != nil {
			return lr.errorf("%w", err)
		}
		lg.add(*r.ReviewerID, *r.Asin, *r.UnixReviewTime)
	}
	if n == 0 {
		return lr.errorf("no reviews")
	}
	return nil
}

func readAmazonMeta(in Input, lg *implicitLog) error {
	lr, err := openLines(in)
	if err != nil {
		return err
	}
	firstAt := map[int32]string{}
	for {
		line, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		m, err := parseAmazonMeta(line)
		if err != nil {
			return lr.errorf("%w", err)
		}
		it, reviewed := lg.itemID[*m.Asin]
		if !reviewed {
			continue
		}
		if at, dup := firstAt[it]; dup {
			return lr.errorf("asin %q is listed again (first at %s)", *m.Asin, at)
		}
		firstAt[it] = lr.where()
		if len(m.Categories) == 0 {
			continue
		}
		last := m.Categories[len(m.Categories)-1]
		if len(last) == 0 {
			continue
		}
		name := last[len(last)-1]
		if err := checkID("category", name); err != nil {
			return lr.errorf("asin %q: %w", *m.Asin, err)
		}
		lg.itemCats[it] = []string{name}
	}
}

// parseAmazonMeta decodes a metadata line, strict JSON first, else as a
// Python dict literal.
func parseAmazonMeta(line []byte) (amazonMeta, error) {
	var m amazonMeta
	jerr := json.Unmarshal(line, &m)
	if jerr != nil {
		conv, perr := pythonToJSON(line)
		if perr != nil {
			return m, fmt.Errorf("metadata is neither JSON (%v) nor a Python dict literal (%v)", jerr, perr)
		}
		m = amazonMeta{}
		if err := json.Unmarshal(conv, &m); err != nil {
			return m, fmt.Errorf("metadata is neither JSON (%v) nor a Python dict literal (%v)", jerr, err)
		}
	}
	if m.Asin == nil {
		return m, errors.New("metadata lacks asin")
	}
	return m, nil
}

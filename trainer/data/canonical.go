package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// CanonicalHeader is the header of the canonical samples CSV: raw user and
// item ids (any non-empty strings), the item's categories separated by '|'
// (may be empty: an item without categories), label 0 or 1, and a Unix
// timestamp in seconds.
var CanonicalHeader = []string{"user", "item", "categories", "label", "timestamp"}

// CanonicalOptions configure the canonical readers. Zero fields take
// defaults.
type CanonicalOptions struct {
	// HistoryLen caps PosHistory/NegHistory (most recent kept); 0 means
	// DefaultHistoryLen.
	HistoryLen int
	// Selection restricts the users kept and can fix the vocabulary.
	Selection
}

// LoadCanonical reads a canonical samples CSV file. See ReadCanonical.
func LoadCanonical(path string, opts CanonicalOptions) (*Dataset, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading canonical samples: %w", err)
	}
	defer f.Close()
	return ReadCanonical(Input{Name: path, Reader: f}, opts)
}

// ReadCanonical builds a Dataset from canonical samples CSV (see
// CanonicalHeader). Columns may come in any order; extra columns are
// ignored. Dense ids follow the sorted raw ids (see Selection). An item must have the same
// category set on every line; ids and category names must not contain line
// breaks, and category names neither '|' nor be empty.
func ReadCanonical(in Input, opts CanonicalOptions) (*Dataset, error) {
	train, _, err := readCanonical([]Input{in}, false, opts)
	return train, err
}

// ReadCanonicalFiles reads several canonical sample files (CSV or Parquet)
// as one Dataset, such as the partitions of a partitioned dataset. Each
// file must hold at least one sample.
func ReadCanonicalFiles(ins []Input, opts CanonicalOptions) (*Dataset, error) {
	if len(ins) == 0 {
		return nil, errors.New("reading canonical files: no input")
	}
	all, _, err := readCanonical(ins, false, opts)
	return all, err
}

// LoadCanonicalPair reads train and test canonical files. See
// ReadCanonicalPair.
func LoadCanonicalPair(trainPath, testPath string, opts CanonicalOptions) (train, test *Dataset, err error) {
	tf, err := openFile(trainPath)
	if err != nil {
		return nil, nil, fmt.Errorf("loading canonical train samples: %w", err)
	}
	defer tf.Close()
	sf, err := openFile(testPath)
	if err != nil {
		return nil, nil, fmt.Errorf("loading canonical test samples: %w", err)
	}
	defer sf.Close()
	return ReadCanonicalPair(Input{Name: trainPath, Reader: tf}, Input{Name: testPath, Reader: sf}, opts)
}

// ReadCanonicalPair reads a train and a test file that were split upstream
// into two Datasets sharing one Vocabulary and Schema. Features are built
// over both files together (histories of test samples include the user's
// train samples, as with the in-memory splits); at equal timestamps train
// rows come first. Users or items of test that never occur in train are an
// error (see CheckCoverage).
func ReadCanonicalPair(trainIn, testIn Input, opts CanonicalOptions) (train, test *Dataset, err error) {
	train, test, err = readCanonical([]Input{trainIn, testIn}, true, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckCoverage(train, test); err != nil {
		return nil, nil, fmt.Errorf("%s against %s: %w", testIn.Name, trainIn.Name, err)
	}
	return train, test, nil
}

// itemSeen records where an item's category set was first given.
type itemSeen struct {
	at string // source.where()
}

// readCanonical parses inputs into one vocabulary. With pair, there are two
// inputs and the samples of inputs[1] go to the second dataset; otherwise
// all samples go to the first.
func readCanonical(inputs []Input, pair bool, opts CanonicalOptions) (*Dataset, *Dataset, error) {
	historyLen, err := historyLenOption(opts.HistoryLen)
	if err != nil {
		return nil, nil, err
	}
	b := newBuilder(opts.Selection)
	itemSorted := map[int32][]int32{} // sorted category set of each item, for comparison
	itemFirst := map[int32]itemSeen{}
	for part, in := range inputs {
		t, err := openSource(in, CanonicalHeader)
		if err != nil {
			return nil, nil, err
		}
		b.reserve(t.rowsHint())
		n := 0
		var catBuf, sorted []int32 // scratch, reused across rows
		var fields []string
		for {
			fields, err = t.next(fields)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			n++
			userRaw, itemRaw, catField := fields[0], fields[1], fields[2]
			if err := checkID("user", userRaw); err != nil {
				return nil, nil, t.errorf("%w", err)
			}
			if err := checkID("item", itemRaw); err != nil {
				return nil, nil, t.errorf("%w", err)
			}
			var label float32
			switch strings.TrimSpace(fields[3]) {
			case "0":
			case "1":
				label = 1
			default:
				return nil, nil, t.errorf("label %q is not 0 or 1", fields[3])
			}
			ts, err := t.parseInt("timestamp", fields[4])
			if err != nil {
				return nil, nil, err
			}
			catBuf = catBuf[:0]
			if catField != "" {
				for name := range strings.SplitSeq(catField, "|") {
					if err := checkID("category", name); err != nil {
						return nil, nil, t.errorf("item %q: %w in %q", itemRaw, err, catField)
					}
					c, ok, err := b.category(name)
					if err != nil {
						return nil, nil, t.errorf("category %q: %w", name, err)
					}
					if !ok {
						continue
					}
					if slices.Contains(catBuf, c) {
						return nil, nil, t.errorf("item %q: category %q listed twice in %q", itemRaw, name, catField)
					}
					catBuf = append(catBuf, c)
				}
			}
			if !b.keepUser(userRaw) {
				continue
			}
			u, ok, err := b.user(userRaw)
			if err != nil {
				return nil, nil, t.errorf("user %q: %w", userRaw, err)
			}
			it, first, okItem, err := b.item(itemRaw)
			if err != nil {
				return nil, nil, t.errorf("item %q: %w", itemRaw, err)
			}
			if !ok || !okItem {
				b.dropRow()
				continue
			}
			sorted = append(sorted[:0], catBuf...)
			slices.Sort(sorted)
			if first {
				var own []int32 // nil for an item without categories
				if len(catBuf) > 0 {
					own = slices.Clone(catBuf)
					itemSorted[it] = slices.Clone(sorted)
				}
				b.setItemCategories(it, own)
				itemFirst[it] = itemSeen{at: t.where()}
			} else if !slices.Equal(sorted, itemSorted[it]) {
				first := itemFirst[it]
				return nil, nil, t.errorf("item %q has categories %q, but %s gave %q",
					itemRaw, catField, first.at, joinNames(&b.vocab.Categories, b.itemCats[it]))
			}
			if pair {
				b.add(u, it, label, ts, uint8(part))
			} else {
				b.add(u, it, label, ts, 0)
			}
		}
		if n == 0 {
			return nil, nil, t.errorf("no samples after the header")
		}
	}
	nparts := 1
	if pair {
		nparts = 2
	}
	out, err := b.finish(historyLen, nparts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", inputs[0].Name, err)
	}
	if len(out) == 1 {
		return out[0], out[0].subset(nil), nil
	}
	return out[0], out[1], nil
}

// checkID rejects names that cannot round-trip through the canonical CSV.
func checkID(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case strings.ContainsAny(s, "\r\n"):
		return fmt.Errorf("%s %q contains a line break", what, s)
	case what == "category" && strings.Contains(s, "|"):
		return fmt.Errorf("category %q contains '|'", s)
	}
	return nil
}

func joinNames(names *Names, ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = names.Name(id)
	}
	return strings.Join(parts, "|")
}

// WriteCanonicalCSV writes ds as canonical samples CSV, one line per sample
// in dataset order. Reading it back gives the same samples by raw id (dense
// ids may be renumbered, and items or users without samples are dropped).
func WriteCanonicalCSV(w io.Writer, ds *Dataset) error {
	if ds == nil || ds.Vocab == nil {
		return errors.New("writing canonical CSV: nil dataset or vocabulary")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CanonicalHeader); err != nil {
		return fmt.Errorf("writing canonical CSV header: %w", err)
	}
	rec := make([]string, len(CanonicalHeader))
	for i := range ds.Samples {
		x := &ds.Samples[i]
		rec[0] = ds.Vocab.Users.Name(x.User)
		rec[1] = ds.Vocab.Items.Name(x.Item)
		if err := checkID("user", rec[0]); err != nil {
			return fmt.Errorf("writing canonical CSV, sample %d (user id %d): %w", i, x.User, err)
		}
		if err := checkID("item", rec[1]); err != nil {
			return fmt.Errorf("writing canonical CSV, sample %d (item id %d): %w", i, x.Item, err)
		}
		for _, c := range x.Categories() {
			if err := checkID("category", ds.Vocab.Categories.Name(c)); err != nil {
				return fmt.Errorf("writing canonical CSV, sample %d (category id %d): %w", i, c, err)
			}
		}
		rec[2] = joinNames(&ds.Vocab.Categories, x.Categories())
		switch x.Label {
		case 0:
			rec[3] = "0"
		case 1:
			rec[3] = "1"
		default:
			return fmt.Errorf("writing canonical CSV, sample %d: label %v is not 0 or 1", i, x.Label)
		}
		rec[4] = strconv.FormatInt(x.Timestamp, 10)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("writing canonical CSV, sample %d: %w", i, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing canonical CSV: %w", err)
	}
	return nil
}

// WriteCanonicalFile writes ds to path (created or truncated) as canonical
// samples CSV.
func WriteCanonicalFile(path string, ds *Dataset) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing canonical samples: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriter(f)
	if err := WriteCanonicalCSV(bw, ds); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

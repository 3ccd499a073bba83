package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// amazonFixture is a small Amazon-format dataset: the lines of the reviews
// and metadata files.
type amazonFixture struct {
	reviews, meta []string
	reviewed      map[string]map[string]bool // user -> items reviewed
	category      map[string]string          // asin -> most specific category
}

// newAmazonFixture draws users who each review 4 to 8 distinct items around
// the paper's split time; metadata is Python dict literals when python,
// strict JSON otherwise.
func newAmazonFixture(users, items int, python bool) *amazonFixture {
	rng := rand.New(rand.NewPCG(7, 11))
	f := &amazonFixture{reviewed: map[string]map[string]bool{}, category: map[string]string{}}
	for u := range users {
		user := fmt.Sprintf("A%03dX", u)
		f.reviewed[user] = map[string]bool{}
		for _, i := range rng.Perm(items)[:4+rng.IntN(5)] {
			asin := fmt.Sprintf("B%04d", i)
			f.reviewed[user][asin] = true
			ts := AmazonSplitTime + int64(rng.IntN(200)-120)*86400
			f.reviews = append(f.reviews, fmt.Sprintf(
				`{"reviewerID": %q, "asin": %q, "reviewerName": "x", "helpful": [0, 0], "overall": 5.0, "unixReviewTime": %d, "reviewTime": "01 1, 2013"}`,
				user, asin, ts))
		}
	}
	for i := range items {
		asin := fmt.Sprintf("B%04d", i)
		leaf := fmt.Sprintf("Leaf %d", i%4)
		f.category[asin] = leaf
		if python {
			f.meta = append(f.meta, fmt.Sprintf(
				`{'asin': '%s', 'title': "Kelby's \xe9 cable", 'price': 12.5, 'salesRank': {'Electronics': %d}, 'related': {'also_bought': ['B0001']}, 'imUrl': None, 'categories': [['Electronics', 'Other'], ['Electronics', 'Accessories', '%s']]}`,
				asin, i, leaf))
		} else {
			f.meta = append(f.meta, fmt.Sprintf(`{"asin": %q, "categories": [["Electronics", "Accessories", %q]]}`, asin, leaf))
		}
	}
	return f
}

func (f *amazonFixture) numReviews() int { return len(f.reviews) }

// writeLines writes lines to dir/name, gzip-compressed when gz.
func writeLines(t *testing.T, dir, name string, lines []string, gz bool) string {
	t.Helper()
	text := []byte(strings.Join(lines, "\n") + "\n")
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(text); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		text = buf.Bytes()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFixture(t *testing.T, f *amazonFixture, opts ImplicitOptions) *Dataset {
	t.Helper()
	ds, err := ReadAmazon(Input{"reviews.json", strings.NewReader(strings.Join(f.reviews, "\n"))},
		Input{"meta.json", strings.NewReader(strings.Join(f.meta, "\n"))}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestLoadAmazon(t *testing.T) {
	for _, tc := range []struct {
		name         string
		gzip, python bool
	}{
		{"plain JSON", false, false},
		{"gzip, Python metadata", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAmazonFixture(20, 40, tc.python)
			dir := t.TempDir()
			reviews := writeLines(t, dir, AmazonReviewsFile, f.reviews, tc.gzip)
			meta := writeLines(t, dir, AmazonMetadataFile, f.meta, tc.gzip)
			ds, err := LoadAmazon(reviews, meta, ImplicitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ds.Validate(); err != nil {
				t.Fatal(err)
			}
			var pos, neg int
			for i := range ds.Samples {
				x := &ds.Samples[i]
				if x.Label == 1 {
					pos++
				} else {
					neg++
				}
				item := ds.Vocab.Items.Name(x.Item)
				cats := x.Categories()
				if len(cats) != 1 || ds.Vocab.Categories.Name(cats[0]) != f.category[item] {
					t.Fatalf("item %s has categories %v, want [%s]", item, joinNames(&ds.Vocab.Categories, cats), f.category[item])
				}
			}
			if pos != f.numReviews() || neg != DefaultNegativesPerPositive*pos {
				t.Errorf("%d positives, %d negatives; want %d and %d", pos, neg, f.numReviews(), DefaultNegativesPerPositive*f.numReviews())
			}
		})
	}
}

func TestAmazonNegatives(t *testing.T) {
	f := newAmazonFixture(30, 25, false)
	ds := readFixture(t, f, ImplicitOptions{Negatives: NegativeOptions{PerPositive: 3, Seed: 9}})
	posAt := map[string]map[int64]int{} // user -> timestamp -> positives
	negAt := map[string]map[int64]int{}
	for i := range ds.Samples {
		x := &ds.Samples[i]
		user, item := ds.Vocab.Users.Name(x.User), ds.Vocab.Items.Name(x.Item)
		m := posAt
		if x.Label == 0 {
			m = negAt
			if f.reviewed[user][item] {
				t.Fatalf("negative of user %s on item %s, which the user reviewed", user, item)
			}
		} else if !f.reviewed[user][item] {
			t.Fatalf("positive of user %s on item %s, which the user did not review", user, item)
		}
		if m[user] == nil {
			m[user] = map[int64]int{}
		}
		m[user][x.Timestamp]++
	}
	// Each negative takes its positive's timestamp: 3 per positive at each time.
	for user, byTime := range posAt {
		for ts, n := range byTime {
			if negAt[user][ts] != 3*n {
				t.Errorf("user %s at %d: %d negatives for %d positives", user, ts, negAt[user][ts], n)
			}
		}
	}
}

func TestAmazonReproducible(t *testing.T) {
	f := newAmazonFixture(25, 30, false)
	opts := ImplicitOptions{Negatives: NegativeOptions{Seed: 4}}
	want := rawSamples(readFixture(t, f, opts))
	if got := rawSamples(readFixture(t, f, opts)); !slices.Equal(got, want) {
		t.Error("the same input and seed gave different samples")
	}
	shuffled := &amazonFixture{reviews: slices.Clone(f.reviews), meta: slices.Clone(f.meta)}
	slices.Reverse(shuffled.reviews)
	slices.Reverse(shuffled.meta)
	if got := rawSamples(readFixture(t, shuffled, opts)); !slices.Equal(got, want) {
		t.Error("reordering the input lines changed the samples")
	}
	other := rawSamples(readFixture(t, f, ImplicitOptions{Negatives: NegativeOptions{Seed: 5}}))
	if slices.Equal(other, want) {
		t.Error("another seed gave the same samples")
	}
}

func TestAmazonShardIndependent(t *testing.T) {
	f := newAmazonFixture(40, 30, false)
	opts := ImplicitOptions{Negatives: NegativeOptions{Seed: 2}}
	want := rawSamples(readFixture(t, f, opts))
	for _, shards := range []int{2, 3, 7} {
		var got []rawSample
		for s := range shards {
			o := opts
			o.KeepUser = func(u string) bool { return int(u[1]+u[2]+u[3])%shards == s }
			got = append(got, rawSamples(readFixture(t, f, o))...)
		}
		sortRaw(got)
		w := slices.Clone(want)
		sortRaw(w)
		// Histories are per user, so they are the same in a shard.
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%d shards differ from the whole dataset (-whole +shards):\n%s", shards, diff)
		}
	}
}

func sortRaw(s []rawSample) {
	slices.SortFunc(s, func(a, b rawSample) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
}

func TestAmazonSplitByTimestamp(t *testing.T) {
	f := newAmazonFixture(30, 30, true)
	ds := readFixture(t, f, ImplicitOptions{})
	train, test, err := SplitByTimestamp(ds, AmazonSplitTime)
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Samples) == 0 || len(test.Samples) == 0 {
		t.Fatalf("split gives %d train and %d test samples", len(train.Samples), len(test.Samples))
	}
	for _, part := range []struct {
		ds    *Dataset
		train bool
	}{{train, true}, {test, false}} {
		var pos, neg int
		for i := range part.ds.Samples {
			x := &part.ds.Samples[i]
			if (x.Timestamp < AmazonSplitTime) != part.train {
				t.Fatalf("sample at %d in the wrong split (train %v)", x.Timestamp, part.train)
			}
			if x.Label == 1 {
				pos++
			} else {
				neg++
			}
		}
		// Negatives follow their positive into its split.
		if neg != DefaultNegativesPerPositive*pos {
			t.Errorf("train %v: %d positives, %d negatives", part.train, pos, neg)
		}
	}
}

func TestAmazonBadInput(t *testing.T) {
	good := `{"reviewerID": "U1", "asin": "I1", "unixReviewTime": 100}`
	goodMeta := `{"asin": "I1", "categories": [["Electronics"]]}`
	for _, tc := range []struct {
		name, reviews, meta string
		want                string
	}{
		{"not JSON", good + "\n\n{oops", goodMeta, "reviews.json:3: not a JSON review"},
		{"no reviewer", `{"asin": "I1", "unixReviewTime": 1}`, goodMeta, "reviews.json:1: review lacks reviewerID"},
		{"no asin", `{"reviewerID": "U", "unixReviewTime": 1}`, goodMeta, "reviews.json:1: review lacks asin"},
		{"no time", good + "\n" + `{"reviewerID": "U", "asin": "I"}`, goodMeta, "reviews.json:2: review lacks unixReviewTime"},
		{"string time", `{"reviewerID": "U", "asin": "I", "unixReviewTime": "x"}`, goodMeta, "reviews.json:1: not a JSON review"},
		{"empty id", `{"reviewerID": "", "asin": "I", "unixReviewTime": 1}`, goodMeta, "reviews.json:1: empty reviewerID"},
		{"no reviews", "\n", goodMeta, "reviews.json:1: no reviews"},
		{"meta garbage", good, goodMeta + "\n{'asin': 'I2', 'categories': [[Electronics]]}", "meta.json:2: metadata is neither JSON"},
		{"meta bad escape", good, `{'asin': 'I1', 'title': 'a\qb'}`, `meta.json:1: metadata is neither JSON`},
		{"meta unterminated", good, `{'asin': 'I1`, "meta.json:1: metadata is neither JSON"},
		{"meta no asin", good, `{"categories": []}`, "meta.json:1: metadata lacks asin"},
		{"meta twice", good, goodMeta + "\n" + goodMeta, `meta.json:2: asin "I1" is listed again (first at meta.json:1)`},
		{"bad gzip", good, "\x1f\x8bnot gzip at all", "meta.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadAmazon(Input{"reviews.json", strings.NewReader(tc.reviews)}, Input{"meta.json", strings.NewReader(tc.meta)}, ImplicitOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			var le *LineError
			if strings.Contains(tc.want, ".json:") && !errors.As(err, &le) {
				t.Errorf("error %v is not a *LineError", err)
			}
		})
	}
}

func TestAmazonTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range 2000 {
		fmt.Fprintf(zw, `{"reviewerID": "U%d", "asin": "I%d", "unixReviewTime": %d}`+"\n", i%50, i%77, i)
	}
	zw.Close()
	cut := buf.Bytes()[:buf.Len()/2]
	_, err := ReadAmazon(Input{"reviews.json.gz", bytes.NewReader(cut)}, Input{"meta.json", strings.NewReader("")}, ImplicitOptions{})
	var le *LineError
	if !errors.As(err, &le) || le.File != "reviews.json.gz" || le.Line < 2 {
		t.Fatalf("error %v, want a line error in reviews.json.gz", err)
	}
}

func TestPythonToJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{'a': 'b'}`, `{"a": "b"}`},
		{`{'t': "it's", 'u': 'say "hi"'}`, `{"t": "it's", "u": "say \"hi\""}`},
		{`{'x': 'caf\xe9 \'q\' \\ \n', 'n': None, 'b': [True, False]}`, `{"x": "caf\u00e9 'q' \\ \n", "n": null, "b": [true, false]}`},
		{`{'p': 1.5e3, 'q': -2}`, `{"p": 1.5e3, "q": -2}`},
	} {
		got, err := pythonToJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("pythonToJSON(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{'a': nan}`, `{'a': 'b}`, `{'a': '\x4'}`, `{'a': '\z'}`, `{'a': 'b\`} {
		if _, err := pythonToJSON([]byte(bad)); err == nil {
			t.Errorf("pythonToJSON(%s) accepted bad input", bad)
		}
	}
}

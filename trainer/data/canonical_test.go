package data

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rawSample is a sample by raw ids, for comparing datasets across
// vocabularies.
type rawSample struct {
	User, Item, Cats string
	Label            float32
	Timestamp        int64
	Pos, Neg         string
}

func rawSamples(ds *Dataset) []rawSample {
	out := make([]rawSample, len(ds.Samples))
	for i := range ds.Samples {
		x := &ds.Samples[i]
		out[i] = rawSample{
			User: ds.Vocab.Users.Name(x.User), Item: ds.Vocab.Items.Name(x.Item),
			Cats: joinSorted(&ds.Vocab.Categories, x.Categories()), Label: x.Label, Timestamp: x.Timestamp,
			Pos: joinNames(&ds.Vocab.Items, x.PosHistory()), Neg: joinNames(&ds.Vocab.Items, x.NegHistory()),
		}
	}
	return out
}

const testCanonical = "user,item,categories,label,timestamp\n" +
	"alice,m1,Action|Comedy,1,10\n" +
	"bob,m2,,0,5\n" + // an item without categories
	"alice,m2,,0,20\n" +
	"\"carol, jr\",m1,Comedy|Action,1,7\n" + // same set in another order
	"alice,m3,Drama,1,15\n"

func readTestCanonical(s string) (*Dataset, error) {
	return ReadCanonical(Input{"samples.csv", strings.NewReader(s)}, CanonicalOptions{HistoryLen: 1})
}

func TestReadCanonical(t *testing.T) {
	ds, err := readTestCanonical(testCanonical)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []rawSample{
		{"alice", "m1", "Action|Comedy", 1, 10, "", ""},
		{"alice", "m3", "Drama", 1, 15, "m1", ""},
		{"alice", "m2", "", 0, 20, "m3", ""}, // history cap 1: most recent only
		{"bob", "m2", "", 0, 5, "", ""},
		{"carol, jr", "m1", "Action|Comedy", 1, 7, "", ""},
	}
	if got := rawSamples(ds); !slices.Equal(got, want) {
		t.Errorf("samples:\n got %v\nwant %v", got, want)
	}
}

// joinSorted joins the names of ids in sorted order: category lists are
// sets, whose order follows dense ids.
func joinSorted(n *Names, ids []int32) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = n.Name(id)
	}
	slices.Sort(names)
	return strings.Join(names, "|")
}

// sortedRaw is rawSamples sorted by user, then the dataset's own order.
func sortedRaw(ds *Dataset) []rawSample {
	out := rawSamples(ds)
	slices.SortStableFunc(out, func(a, b rawSample) int { return strings.Compare(a.User, b.User) })
	return out
}

func TestCanonicalRoundTrip(t *testing.T) {
	cfg := DefaultSynthConfig()
	cfg.NumUsers = 30
	ds, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCanonicalCSV(&buf, ds); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCanonical(Input{"gen.csv", &buf}, CanonicalOptions{HistoryLen: ds.Schema.HistoryLen})
	if err != nil {
		t.Fatal(err)
	}
	// The synthetic users u0, u1, ... come back in sorted raw-id order
	// (u0, u1, u10, ...): compare the samples as sets.
	if !slices.Equal(sortedRaw(back), sortedRaw(ds)) {
		t.Error("round trip changed the samples")
	}
	// Through a file, too.
	path := filepath.Join(t.TempDir(), "s.csv")
	if err := WriteCanonicalFile(path, ds); err != nil {
		t.Fatal(err)
	}
	again, err := LoadCanonical(path, CanonicalOptions{HistoryLen: ds.Schema.HistoryLen})
	if err != nil || !slices.Equal(sortedRaw(again), sortedRaw(ds)) {
		t.Errorf("file round trip: %v", err)
	}
}

func TestWriteCanonicalRejects(t *testing.T) {
	ds, err := readTestCanonical(testCanonical)
	if err != nil {
		t.Fatal(err)
	}
	ds.Samples[0].Label = 0.5
	if err := WriteCanonicalCSV(&bytes.Buffer{}, ds); err == nil {
		t.Error("label 0.5: want error")
	}
	ds.Samples[0].Label = 1
	vocab, _ := NewVocabulary(ds.Vocab.Users.All(), ds.Vocab.Items.All(), []string{"Act|ion", "Comedy", "Drama"})
	ds.Vocab = vocab
	if err := WriteCanonicalCSV(&bytes.Buffer{}, ds); err == nil || !strings.Contains(err.Error(), "'|'") {
		t.Errorf("category with '|': error %v", err)
	}
	if err := WriteCanonicalCSV(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil dataset: want error")
	}
}

func TestReadCanonicalMalformed(t *testing.T) {
	const h = "user,item,categories,label,timestamp\n"
	cases := []struct{ name, in, want string }{
		{"empty", "", "samples.csv:1: empty file"},
		{"header only", h, "samples.csv:1: no samples after the header"},
		{"missing column", "user,item,label,timestamp\na,b,1,1\n", `samples.csv:1: header "user,item,label,timestamp" lacks column "categories"`},
		{"duplicated column", "user,item,item,categories,label,timestamp\na,b,b,c,1,1\n", `samples.csv:1: header names column "item" twice`},
		{"repeated header", h + "a,b,c,1,1\n" + h, "samples.csv:3: header row repeated"},
		{"label 2", h + "a,b,c,1,1\na,b,c,2,2\n", `samples.csv:3: label "2" is not 0 or 1`},
		{"label text", h + "a,b,c,yes,1\n", `samples.csv:2: label "yes" is not 0 or 1`},
		{"timestamp text", h + "a,b,c,1,noon\n", `samples.csv:2: timestamp "noon" is not an integer`},
		{"empty user", h + ",b,c,1,1\n", "samples.csv:2: empty user"},
		{"empty item", h + "a,,c,1,1\n", "samples.csv:2: empty item"},
		{"line break in id", h + "\"a\nb\",b,c,1,1\n", `samples.csv:2: user "a\nb" contains a line break`},
		{"empty category", h + "a,b,c||d,1,1\n", `samples.csv:2: item "b": empty category in "c||d"`},
		{"repeated category", h + "a,b,c|c,1,1\n", `samples.csv:2: item "b": category "c" listed twice`},
		{"inconsistent categories", h + "a,b,c,1,1\na,x,d,1,1\nz,b,d,0,3\n", `samples.csv:4: item "b" has categories "d", but samples.csv:2 gave "c"`},
		{"wrong field count", h + "a,b,c,1\n", "samples.csv:2: wrong number of fields"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readTestCanonical(c.in)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Errorf("error %q is not a *LineError", err)
			}
		})
	}
}

func TestReadCanonicalPair(t *testing.T) {
	train := "user,item,categories,label,timestamp\nalice,m1,A,1,10\nalice,m2,B,0,20\nbob,m2,B,1,5\n"
	test := "timestamp,label,categories,item,user\n20,1,A,m1,alice\n30,0,B,m2,bob\n" // columns in another order
	tr, te, err := ReadCanonicalPair(Input{"train.csv", strings.NewReader(train)}, Input{"test.csv", strings.NewReader(test)}, CanonicalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Vocab != te.Vocab || tr.Schema != te.Schema {
		t.Error("train and test do not share vocabulary and schema")
	}
	got := rawSamples(te)
	// alice's test sample at 20 ties her train sample at 20: train rows come
	// first, so the test sample's history holds both train samples.
	want := []rawSample{
		{"alice", "m1", "A", 1, 20, "m1", "m2"},
		{"bob", "m2", "B", 0, 30, "m2", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("test samples:\n got %v\nwant %v", got, want)
	}
	if len(tr.Samples) != 3 {
		t.Errorf("%d train samples", len(tr.Samples))
	}

	unseen := "user,item,categories,label,timestamp\ncarol,m1,A,1,1\nalice,m9,Z,1,1\n"
	_, _, err = ReadCanonicalPair(Input{"train.csv", strings.NewReader(train)}, Input{"test.csv", strings.NewReader(unseen)}, CanonicalOptions{})
	if err == nil || !strings.Contains(err.Error(), `"carol"`) || !strings.Contains(err.Error(), `"m9"`) {
		t.Errorf("unseen ids: error %v should name carol and m9", err)
	}
	clash := "user,item,categories,label,timestamp\nalice,m1,B,1,30\n"
	_, _, err = ReadCanonicalPair(Input{"train.csv", strings.NewReader(train)}, Input{"test.csv", strings.NewReader(clash)}, CanonicalOptions{})
	if err == nil || !strings.Contains(err.Error(), "test.csv:2:") || !strings.Contains(err.Error(), "train.csv:2") {
		t.Errorf("category clash across files: error %v", err)
	}
}

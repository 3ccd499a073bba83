package data

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestNthFree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		pool := 1 + rng.IntN(40)
		var seen []int32
		var free []int32
		for i := range int32(pool) {
			if rng.IntN(3) == 0 {
				seen = append(seen, i)
			} else {
				free = append(free, i)
			}
		}
		for r, want := range free {
			if got := nthFree(seen, int32(r)); got != want {
				t.Fatalf("nthFree(%v, %d) = %d, want %d", seen, r, got, want)
			}
		}
	}
}

func TestSampleNegativesAllReviewed(t *testing.T) {
	rng := userRNG(1, "u")
	if got := sampleNegatives(rng, []int32{2, 0, 1, 1}, 3, 5); got != nil {
		t.Errorf("a user who reviewed every item got negatives %v", got)
	}
	got := sampleNegatives(rng, []int32{2, 0, 1}, 4, 2)
	if !slices.Equal(got, []int32{3, 3, 3, 3, 3, 3}) {
		t.Errorf("the only free item is 3; got %v", got)
	}
}

const testImplicit = "user,item,timestamp,categories,extra\n" +
	"alice,i1,10,Audio|Cables,x\n" +
	"bob,i2,5,,y\n" +
	"alice,i3,20,TV,z\n" +
	"carol,i1,7,Cables|Audio,w\n" +
	"bob,i4,30,TV,v\n"

func TestReadImplicitCSVAndParquet(t *testing.T) {
	opts := ImplicitOptions{Negatives: NegativeOptions{PerPositive: 2, Seed: 3}}
	csvDS, err := ReadImplicit(Input{"log.csv", strings.NewReader(testImplicit)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := csvDS.Validate(); err != nil {
		t.Fatal(err)
	}
	if n := len(csvDS.Samples); n != 15 {
		t.Errorf("%d samples, want 5 positives and 10 negatives", n)
	}
	reviewed := map[string]string{"alice": "i1 i3", "bob": "i2 i4", "carol": "i1"}
	for _, s := range rawSamples(csvDS) {
		if s.Label == 0 && strings.Contains(reviewed[s.User], s.Item) {
			t.Errorf("negative %+v on an item the user logged", s)
		}
	}
	type row struct {
		User       string  `parquet:"user"`
		Item       string  `parquet:"item"`
		Timestamp  int64   `parquet:"timestamp"`
		Categories *string `parquet:"categories,optional"`
	}
	ptr := func(s string) *string { return &s }
	rows := []row{
		{"alice", "i1", 10, ptr("Audio|Cables")}, {"bob", "i2", 5, ptr("")}, {"alice", "i3", 20, ptr("TV")},
		{"carol", "i1", 7, ptr("Cables|Audio")}, {"bob", "i4", 30, ptr("TV")},
	}
	pqDS, err := ReadImplicit(Input{"log.parquet", bufioReader(writeParquet(t, rows, 2))}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rawSamples(pqDS), rawSamples(csvDS); !slices.Equal(got, want) {
		t.Errorf("Parquet gives\n%v\nCSV gives\n%v", got, want)
	}
}

func TestReadImplicitBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"missing column", "user,item,timestamp\nu,i,1\n", `log.csv:1: header "user,item,timestamp" lacks column "categories"`},
		{"bad time", "user,item,timestamp,categories\nu,i,1,\nu,j,x,\n", `log.csv:3: timestamp "x" is not an integer`},
		{"empty item", "user,item,timestamp,categories\nu,,1,\n", "log.csv:2: empty item"},
		{"categories differ", "user,item,timestamp,categories\nu,i,1,A\nv,i,2,B\n", `log.csv:3: item "i" has categories "B", but log.csv:2 gave "A"`},
		{"category twice", "user,item,timestamp,categories\nu,i,1,A|A\n", "log.csv:2: item \"i\": a category is listed twice"},
		{"no rows", "user,item,timestamp,categories\n", "log.csv:1: no rows after the header"},
		{"bad ratio", "user,item,timestamp,categories\nu,i,1,\n", "negatives per positive -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := ImplicitOptions{}
			if tc.name == "bad ratio" {
				opts.Negatives.PerPositive = -1
			}
			_, err := ReadImplicit(Input{"log.csv", strings.NewReader(tc.in)}, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func FuzzAmazon(f *testing.F) {
	fx := newAmazonFixture(3, 10, true)
	f.Add(strings.Join(fx.reviews, "\n"), strings.Join(fx.meta, "\n"))
	f.Add(`{"reviewerID": "U", "asin": "I", "unixReviewTime": 1}`, `{'asin': 'I', 'categories': [['a\x41', "b'"]]}`)
	f.Fuzz(func(t *testing.T, reviews, meta string) {
		ds, err := ReadAmazon(Input{"r.json", strings.NewReader(reviews)}, Input{"m.json", strings.NewReader(meta)},
			ImplicitOptions{Negatives: NegativeOptions{PerPositive: 2}})
		if err != nil {
			return
		}
		if err := ds.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzImplicit(f *testing.F) {
	f.Add(testImplicit)
	f.Add("categories,timestamp,item,user\n,1,a,b\n")
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := ReadImplicit(Input{"log.csv", strings.NewReader(in)}, ImplicitOptions{Negatives: NegativeOptions{PerPositive: 1}})
		if err != nil {
			return
		}
		if err := ds.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

package data

import (
	"strings"
	"testing"
)

func TestTrainCount(t *testing.T) {
	cases := []struct {
		n    int
		f    float64
		want int
	}{
		{0, 0.8, 0}, {1, 0.8, 1}, // fewer than 2: all train
		{2, 0.8, 1}, {3, 0.8, 2}, {4, 0.8, 3}, {5, 0.8, 4}, {10, 0.8, 8},
		{5, 0.5, 3},   // 2.5 rounds up
		{10, 0.01, 1}, // at least one train sample
		{10, 0.99, 9}, // at least one test sample
	}
	for _, c := range cases {
		if got := TrainCount(c.n, c.f); got != c.want {
			t.Errorf("TrainCount(%d, %v) = %d, want %d", c.n, c.f, got, c.want)
		}
	}
}

func TestSplitPerUserFraction(t *testing.T) {
	ds, err := Generate(DefaultSynthConfig())
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := SplitPerUserFraction(ds, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	if train.Vocab != ds.Vocab || test.Vocab != ds.Vocab || train.Schema != ds.Schema {
		t.Error("splits do not share the vocabulary and schema")
	}
	if len(train.Samples)+len(test.Samples) != len(ds.Samples) {
		t.Fatalf("%d + %d != %d samples", len(train.Samples), len(test.Samples), len(ds.Samples))
	}
	for _, d := range []*Dataset{train, test} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	trainR, testR := UserRanges(train), UserRanges(test)
	testByUser := map[int32]Range{}
	for _, r := range testR {
		testByUser[r.User] = r
	}
	for _, r := range trainR {
		tr, ok := testByUser[r.User]
		n := r.Len() + tr.Len()
		if r.Len() != TrainCount(n, 0.8) || (n >= 2 && !ok) {
			t.Fatalf("user %d: %d train of %d", r.User, r.Len(), n)
		}
		// Chronological: every train sample is no later than every test one.
		if ok && train.Samples[r.End-1].Timestamp > test.Samples[tr.Start].Timestamp {
			t.Fatalf("user %d: train sample after a test sample", r.User)
		}
		// The first test sample's history continues from the train samples.
		if ok {
			last := train.Samples[r.End-1]
			first := test.Samples[tr.Start]
			hist := first.NegHistory()
			if last.Label == 1 {
				hist = first.PosHistory()
			}
			if len(hist) == 0 || hist[len(hist)-1] != last.Item {
				t.Fatalf("user %d: test history does not end with the last train item", r.User)
			}
		}
	}
	for _, f := range []float64{0, 1, -0.5, 2} {
		if _, _, err := SplitPerUserFraction(ds, f); err == nil {
			t.Errorf("fraction %v: want error", f)
		}
	}

	// The last floor(n/4) train rows of each user are held out, in order.
	fit, valid, err := SplitLast(train, func(n int) int { return n / 4 })
	if err != nil {
		t.Fatal(err)
	}
	if len(fit.Samples)+len(valid.Samples) != len(train.Samples) {
		t.Error("holdout split lost samples")
	}
	validRange := make(map[int32]Range)
	for _, r := range UserRanges(valid) {
		validRange[r.User] = r
	}
	for _, r := range UserRanges(train) {
		v := validRange[r.User]
		if v.Len() != r.Len()/4 {
			t.Fatalf("user %d: %d held-out rows of %d, want %d", r.User, v.Len(), r.Len(), r.Len()/4)
		}
		for j := range v.Len() {
			if valid.Samples[v.Start+j] != train.Samples[r.End-v.Len()+j] {
				t.Fatalf("user %d: held-out row %d is not train row %d", r.User, j, r.Len()-v.Len()+j)
			}
		}
	}
}

func TestSplitByTimestamp(t *testing.T) {
	ds, err := readTestCanonical(testCanonical)
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := SplitByTimestamp(ds, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range train.Samples {
		if x.Timestamp >= 10 {
			t.Errorf("train has time %d", x.Timestamp)
		}
	}
	for _, x := range test.Samples {
		if x.Timestamp < 10 {
			t.Errorf("test has time %d", x.Timestamp)
		}
	}
	if len(train.Samples) != 2 || len(test.Samples) != 3 {
		t.Errorf("split sizes %d/%d, want 2/3 (times 5,7 | 10,15,20)", len(train.Samples), len(test.Samples))
	}
	if _, _, err := SplitByTimestamp(nil, 0); err == nil {
		t.Error("nil dataset: want error")
	}
}

func TestCheckCoverage(t *testing.T) {
	ds, err := readTestCanonical(testCanonical)
	if err != nil {
		t.Fatal(err)
	}
	// Train before 10 holds bob and carol only; alice and m3 appear in test alone.
	train, test, _ := SplitByTimestamp(ds, 10)
	err = CheckCoverage(train, test)
	if err == nil || !strings.Contains(err.Error(), `1 test users have no train samples: "alice"`) ||
		!strings.Contains(err.Error(), `1 test items have no train samples: "m3"`) {
		t.Errorf("CheckCoverage error %v", err)
	}
	if err := CheckCoverage(ds, ds); err != nil {
		t.Errorf("dataset against itself: %v", err)
	}
	if err := CheckCoverage(nil, ds); err == nil {
		t.Error("nil train: want error")
	}
}

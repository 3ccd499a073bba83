package data

import (
	"slices"
	"testing"
	"unsafe"
)

func TestBuildFeatures(t *testing.T) {
	// User 0: items 10(+) 11(-) 12(+) 13(+) 14(-) 15(+); user 1: 20(+) 21(-).
	s := []Sample{
		{User: 0, Item: 10, Label: 1, Timestamp: 1},
		{User: 0, Item: 11, Label: 0, Timestamp: 2},
		{User: 0, Item: 12, Label: 1, Timestamp: 3},
		{User: 0, Item: 13, Label: 1, Timestamp: 3},
		{User: 0, Item: 14, Label: 0, Timestamp: 4},
		{User: 0, Item: 15, Label: 1, Timestamp: 5},
		{User: 1, Item: 20, Label: 1, Timestamp: 0},
		{User: 1, Item: 21, Label: 0, Timestamp: 1},
	}
	if err := buildFeatures(s, nil, 2); err != nil {
		t.Fatal(err)
	}
	want := []struct{ pos, neg []int32 }{
		{nil, nil},
		{[]int32{10}, nil},
		{[]int32{10}, []int32{11}},
		{[]int32{10, 12}, []int32{11}}, // same timestamp: the order given (sorting puts the lower item first)
		{[]int32{12, 13}, []int32{11}}, // capped at the 2 most recent, oldest first
		{[]int32{12, 13}, []int32{11, 14}},
		{nil, nil}, // a new user starts empty
		{[]int32{20}, nil},
	}
	for i, w := range want {
		if !slices.Equal(s[i].PosHistory(), w.pos) || !slices.Equal(s[i].NegHistory(), w.neg) {
			t.Errorf("sample %d: pos %v neg %v, want %v %v", i, s[i].PosHistory(), s[i].NegHistory(), w.pos, w.neg)
		}
	}
	// Histories share a backing array; appending to one must not clobber
	// the next sample's history.
	h := s[3].PosHistory()
	_ = append(h, 99)
	if !slices.Equal(s[4].PosHistory(), []int32{12, 13}) || !slices.Equal(s[5].PosHistory(), []int32{12, 13}) {
		t.Error("append to one history changed another")
	}
}

func TestBuildFeaturesErrors(t *testing.T) {
	unsorted := []Sample{{User: 0, Timestamp: 5}, {User: 0, Timestamp: 4}}
	if err := buildFeatures(unsorted, nil, 3); err == nil {
		t.Error("unsorted by time: want error")
	}
	if err := buildFeatures([]Sample{{User: 1}, {User: 0}}, nil, 3); err == nil {
		t.Error("unsorted by user: want error")
	}
	if err := buildFeatures(nil, nil, -1); err == nil {
		t.Error("negative cap: want error")
	}
	if err := buildFeatures(nil, nil, 0); err != nil {
		t.Errorf("empty: %v", err)
	}
}

func TestBuildFeaturesAllocations(t *testing.T) {
	ds, err := Generate(DefaultSynthConfig())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := buildFeatures(ds.Samples, ds.ItemCategories, 20); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("buildFeatures made %v allocations for %d samples, want 3", allocs, len(ds.Samples))
	}
}

func TestSampleSize(t *testing.T) {
	if n := unsafe.Sizeof(Sample{}); n != 40 {
		t.Errorf("Sample is %d bytes, want 40 (20 million samples in 800 MB)", n)
	}
}

func TestFreezeHistories(t *testing.T) {
	ds, err := Generate(SynthConfig{Seed: 3, NumUsers: 20, NumItems: 50, NumCategories: 4, SamplesPerUser: 12, GlobalCTR: 0.4, HistoryLen: 5})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := SplitPerUserFraction(ds, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	before := make([][]int32, len(test.Samples))
	for i := range test.Samples {
		before[i] = append(test.Samples[i].PosHistory(), test.Samples[i].NegHistory()...)
	}
	FreezeHistories(test)
	trainEnd := map[int32]Sample{}
	for _, r := range UserRanges(train) {
		trainEnd[r.User] = train.Samples[r.End-1]
	}
	for _, r := range UserRanges(test) {
		first := test.Samples[r.Start]
		for i := r.Start; i < r.End; i++ {
			x := test.Samples[i]
			if !slices.Equal(x.PosHistory(), first.PosHistory()) || !slices.Equal(x.NegHistory(), first.NegHistory()) {
				t.Fatalf("user %d: test row %d has other histories than the first test row", r.User, i-r.Start)
			}
			if !slices.Equal(append(x.PosHistory(), x.NegHistory()...), before[i]) {
				moved++
			}
		}
		// The frozen histories end with the user's last train row.
		if last, ok := trainEnd[r.User]; ok {
			h := first.NegHistory()
			if last.Label == 1 {
				h = first.PosHistory()
			}
			if len(h) == 0 || h[len(h)-1] != last.Item {
				t.Fatalf("user %d: frozen history does not end with the last train item", r.User)
			}
		}
	}
	if moved == 0 {
		t.Error("no test row's histories changed: the data has no user with two test rows")
	}
}

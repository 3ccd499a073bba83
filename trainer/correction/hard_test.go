package correction

import (
	"math"
	"testing"
)

func TestHardLookup(t *testing.T) {
	// Gap on [0.3, 0.5); the last group ends at 1 and holds r = 1.
	table := HardTable{
		{Min: 0, Max: 0.1, Positive: 1, Negative: 0.3},
		{Min: 0.1, Max: 0.3, Positive: 1, Negative: 0.1},
		{Min: 0.5, Max: 1, Positive: 0.8, Negative: 0},
	}
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		r       float64
		want    Labels
		applied bool
	}{
		{0, Labels{1, 0.3}, true},
		{0.0999, Labels{1, 0.3}, true},
		{0.1, Labels{1, 0.1}, true}, // Min is inclusive, Max exclusive
		{0.29, Labels{1, 0.1}, true},
		{0.3, Identity, false}, // in the gap
		{0.45, Identity, false},
		{0.5, Labels{0.8, 0}, true},
		{1, Labels{0.8, 0}, true}, // the group ending at 1 holds 1
	}
	for _, c := range cases {
		l, applied, err := table.Correct(0.4, c.r)
		if err != nil || l != c.want || applied != c.applied {
			t.Errorf("Correct(0.4, %v) = %+v, %v, %v; want %+v, %v", c.r, l, applied, err, c.want, c.applied)
		}
	}
	// A table ending below 1 leaves r = 1 uncorrected.
	short := HardTable{{Min: 0, Max: 0.9, Positive: 1, Negative: 0.2}}
	if l, applied, _ := short.Correct(0.4, 1); applied || l != Identity {
		t.Errorf("short table at r=1: %+v, %v; want identity", l, applied)
	}
	// A group whose labels are the identity is not "applied".
	id := HardTable{{Min: 0, Max: 1, Positive: 1, Negative: 0}}
	if _, applied, _ := id.Correct(0.4, 0.7); applied {
		t.Error("identity group reported as applied")
	}
}

func TestHardValidate(t *testing.T) {
	bad := map[string]HardTable{
		"empty":          {},
		"min>=max":       {{Min: 0.5, Max: 0.5, Positive: 1}},
		"below 0":        {{Min: -0.1, Max: 0.5, Positive: 1}},
		"above 1":        {{Min: 0.5, Max: 1.1, Positive: 1}},
		"overlap":        {{Min: 0, Max: 0.5, Positive: 1}, {Min: 0.4, Max: 1, Positive: 1}},
		"unsorted":       {{Min: 0.5, Max: 1, Positive: 1}, {Min: 0, Max: 0.5, Positive: 1}},
		"NaN label":      {{Min: 0, Max: 1, Positive: math.NaN()}},
		"infinite label": {{Min: 0, Max: 1, Positive: 1, Negative: math.Inf(-1)}},
		"NaN range":      {{Min: math.NaN(), Max: 1, Positive: 1}},
	}
	for name, table := range bad {
		if err := table.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, table)
		}
		if _, _, err := table.Correct(0.5, 0.5); err == nil {
			t.Errorf("%s: Correct accepted an invalid table", name)
		}
	}
	// Labels outside [0, 1] are allowed (the paper's y+ = 2).
	ok := HardTable{{Min: 0, Max: 0.5, Positive: 2, Negative: -0.5}, {Min: 0.5, Max: 1, Positive: 1, Negative: 0}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid table rejected: %v", err)
	}
}

func TestGroupsFromEdges(t *testing.T) {
	table, err := GroupsFromEdges([]float64{0, 0.2, 0.6, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != 3 || table[1] != (Group{Min: 0.2, Max: 0.6, Positive: 1, Negative: 0}) {
		t.Errorf("GroupsFromEdges = %+v", table)
	}
	for _, edges := range [][]float64{{0.5}, {0, 0.5, 0.5, 1}, {0, 1.5}} {
		if _, err := GroupsFromEdges(edges); err == nil {
			t.Errorf("GroupsFromEdges(%v): want error", edges)
		}
	}
}

// TestHardAutoGroup: a group marked Auto gives each user Auto's labels for
// (g, r), whatever labels it carries.
func TestHardAutoGroup(t *testing.T) {
	table := HardTable{
		{Min: 0, Max: 0.2, Positive: 1.5, Negative: 0},
		{Min: 0.2, Max: 1, Positive: math.NaN(), Auto: true},
	}
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []float64{0.25, 0.4, 0.9, 1} {
		want, wantApplied, err := AutoLabels(0.3, r)
		if err != nil {
			t.Fatal(err)
		}
		got, applied, err := table.Correct(0.3, r)
		if err != nil || got != want || applied != wantApplied {
			t.Errorf("Correct(0.3, %v) = %+v, %v, %v; want Auto's %+v, %v", r, got, applied, err, want, wantApplied)
		}
	}
	if got, _, _ := table.Correct(0.3, 0.1); got != (Labels{1.5, 0}) {
		t.Errorf("the labelled group gave %+v", got)
	}
}

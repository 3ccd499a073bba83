package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestRecentSetCountsEachRunOnce(t *testing.T) {
	s := recentSet[types.UID]{size: 3}
	for i, tc := range []struct {
		uid  types.UID
		want bool
	}{
		{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"b", false},
		{"d", true}, // full: forgets "a"
		{"a", true}, {"c", false}, {"b", true},
	} {
		if got := s.first(tc.uid); got != tc.want {
			t.Fatalf("step %d: first(%q) = %v, want %v", i, tc.uid, got, tc.want)
		}
	}
	if len(s.seen) != 3 || len(s.order) != 3 {
		t.Fatalf("set holds %d/%d entries, want 3", len(s.seen), len(s.order))
	}
}

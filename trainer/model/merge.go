package model

import (
	"errors"
	"fmt"
)

// Merge adds to the base model m every change its replicas made since their
// last Fork or Reset, then resets them: for each parameter value,
//
//	base += Σ over replicas (replica − base)
//
// which is what Hogwild-style training on shared parameters would apply,
// computed without races: each replica trains on its own data shard, and
// the merge runs when they have all stopped. An embedding row gets the
// changes of the replicas that wrote it; a dense parameter those of the
// replicas that updated it. Sums run in replica order, so a merge is
// deterministic. The replicas must be forked from m and not stale (m not
// trained since their Fork or Reset); optimizer state is not merged (the
// replicas' is discarded), so Merge suits stateless optimizers (SGD).
func (m *Model) Merge(reps []*Replica) error {
	if m.base != nil {
		return errors.New("model: merge: m is a replica; merge into its base")
	}
	for i, r := range reps {
		if r.base != m {
			return fmt.Errorf("model: merge: replica %d is not forked from this model", i)
		}
		if r.patch != nil {
			return fmt.Errorf("model: merge: replica %d has a patch, which a model has no place for", i)
		}
		if r.forked != m.version {
			return fmt.Errorf("model: merge: replica %d is stale (its base was trained since its Fork or Reset)", i)
		}
	}
	for ti, t := range m.p.tables {
		if t.mergeCount == nil {
			t.mergeCount = make([]int32, t.rows)
		}
		for _, r := range reps {
			for _, row := range r.p.tables[ti].ovRows {
				t.mergeCount[row]++
			}
		}
		// new = old·(1−c) + Σ writers' rows, c writers: the first writer
		// scales the old row (and clears the count), the others add.
		for _, r := range reps {
			rt := r.p.tables[ti]
			for _, row := range rt.ovRows {
				dst := t.data[int(row)*t.dim : int(row+1)*t.dim]
				if c := t.mergeCount[row]; c > 0 {
					scale(dst, float32(1-c))
					t.mergeCount[row] = 0
				}
				add(dst, rt.row(row))
			}
		}
	}
	for di, d := range m.p.denses {
		c := 0
		for _, r := range reps {
			if r.p.denses[di].dirty {
				c++
			}
		}
		if c == 0 {
			continue
		}
		scale(d.data, float32(1-c))
		for _, r := range reps {
			if rd := r.p.denses[di]; rd.dirty {
				add(d.data, rd.data)
			}
		}
	}
	m.version++
	for _, r := range reps {
		r.Reset()
	}
	return nil
}

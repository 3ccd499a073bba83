package model

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMerge: the base takes the sum of its replicas' changes, row by row
// and value by value, and the replicas are reset to the merged base.
func TestMerge(t *testing.T) {
	schema := tinySchema
	m := mustNew(t, Config{Arch: ArchWideDeep, EmbeddingDim: 4, HiddenUnits: []int{8}, Seed: 3}, schema)
	opt := mustSGD(t, 0.1)
	rng := rand.New(rand.NewPCG(5, 6))
	reps := make([]*Replica, 2)
	for i := range reps {
		r, err := m.Fork()
		if err != nil {
			t.Fatal(err)
		}
		reps[i] = r
		// Both replicas see user 1 (a shared row) and their own users.
		batch := randomSamples(rng, schema, 16)
		batch[0].User = 1
		if _, err := r.TrainStep(batch, labelsOf(batch), opt); err != nil {
			t.Fatal(err)
		}
	}
	// Expected values, from copies taken before the merge.
	want := make([][]float32, len(m.p.denses))
	for di, d := range m.p.denses {
		want[di] = slices.Clone(d.data)
		for _, r := range reps {
			for j, v := range r.p.denses[di].data {
				want[di][j] += v - d.data[j]
			}
		}
	}
	users := m.p.tables[0]
	wantRows := map[int32][]float32{}
	for _, r := range reps {
		for _, row := range r.p.tables[0].ovRows {
			if wantRows[row] == nil {
				wantRows[row] = slices.Clone(users.row(row))
			}
			for j, v := range r.p.tables[0].row(row) {
				wantRows[row][j] += v - users.row(row)[j]
			}
		}
	}
	if len(wantRows) == 0 {
		t.Fatal("no user rows written")
	}
	if err := m.Merge(reps); err != nil {
		t.Fatal(err)
	}
	const tol = 1e-6
	for di, d := range m.p.denses {
		for j, v := range d.data {
			if diff := v - want[di][j]; diff > tol || diff < -tol {
				t.Fatalf("dense %s[%d] = %v, want %v", d.name, j, v, want[di][j])
			}
		}
	}
	for row, w := range wantRows {
		for j, v := range users.row(row) {
			if diff := v - w[j]; diff > tol || diff < -tol {
				t.Fatalf("user row %d [%d] = %v, want %v", row, j, v, w[j])
			}
		}
	}
	for _, c := range users.mergeCount {
		if c != 0 {
			t.Fatal("merge counts not cleared")
		}
	}
	// Reset replicas predict as the merged base.
	batch := randomSamples(rng, schema, 8)
	zb, zr := make([]float32, 8), make([]float32, 8)
	if err := m.Predict(batch, zb); err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.OverlayRows() != 0 {
			t.Fatal("replica not reset")
		}
		if err := r.Predict(batch, zr); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(zb, zr) {
			t.Fatalf("replica predicts %v, base %v", zr, zb)
		}
	}
}

// TestMergeOneReplica: merging a single replica gives the base exactly the
// replica's parameters.
func TestMergeOneReplica(t *testing.T) {
	m := mustNew(t, Config{Arch: ArchDeepFM, EmbeddingDim: 4, HiddenUnits: []int{8, 4}, Seed: 3}, tinySchema)
	r, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	batch := randomSamples(rng, tinySchema, 32)
	if _, err := r.TrainStep(batch, labelsOf(batch), mustSGD(t, 0.1)); err != nil {
		t.Fatal(err)
	}
	zr, zb := make([]float32, 32), make([]float32, 32)
	if err := r.Predict(batch, zr); err != nil {
		t.Fatal(err)
	}
	if err := m.Merge([]*Replica{r}); err != nil {
		t.Fatal(err)
	}
	if err := m.Predict(batch, zb); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(zb, zr) {
		t.Fatalf("merged base predicts %v, the replica predicted %v", zb, zr)
	}
}

func TestMergeErrors(t *testing.T) {
	m := mustNew(t, Config{Arch: ArchLR, Seed: 1}, tinySchema)
	other := mustNew(t, Config{Arch: ArchLR, Seed: 1}, tinySchema)
	r, err := other.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Merge([]*Replica{r}); err == nil {
		t.Error("merging another model's replica: no error")
	}
	if err := r.Merge(nil); err == nil {
		t.Error("merging into a replica: no error")
	}
	mine, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	batch := randomSamples(rand.New(rand.NewPCG(1, 1)), tinySchema, 4)
	if _, err := m.TrainStep(batch, labelsOf(batch), mustSGD(t, 0.1)); err != nil {
		t.Fatal(err)
	}
	if err := m.Merge([]*Replica{mine}); err == nil {
		t.Error("merging a stale replica: no error")
	}
}

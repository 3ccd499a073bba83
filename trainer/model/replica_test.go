package model

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

var fineSchema = data.Schema{NumUsers: 30, NumItems: 60, NumCategories: 5, HistoryLen: 6}

func fineConfigs() []Config {
	return []Config{
		{Arch: ArchLR, Seed: 9},
		{Arch: ArchWideDeep, EmbeddingDim: 6, HiddenUnits: []int{12, 6}, Seed: 9},
		{Arch: ArchDeepFM, EmbeddingDim: 6, HiddenUnits: []int{12, 6}, Seed: 9},
		{Arch: ArchPNN, EmbeddingDim: 6, HiddenUnits: []int{12, 6}, Seed: 9},
		{Arch: ArchDIN, EmbeddingDim: 6, HiddenUnits: []int{12, 6}, Seed: 9},
	}
}

// userData returns each user's train and test samples.
func userData(users int) (train, test [][]data.Sample) {
	rng := rand.New(rand.NewPCG(11, 12))
	for u := range users {
		tr := randomSamples(rng, fineSchema, 20+rng.IntN(30))
		te := randomSamples(rng, fineSchema, 10)
		for i := range tr {
			tr[i].User = int32(u)
		}
		for i := range te {
			te[i].User = int32(u)
		}
		train, test = append(train, tr), append(test, te)
	}
	return train, test
}

// pretrained returns a base model trained for one epoch on all users.
func pretrained(t testing.TB, cfg Config, train [][]data.Sample) *Model {
	m := mustNew(t, cfg, fineSchema)
	opt := mustSGD(t, 0.5)
	for _, tr := range train {
		step(t, m, tr, labelsOf(tr), opt)
	}
	return m
}

// fineTune fine-tunes r on one user's samples, two epochs of batches of 8
// with labels scaled as label correction would, and returns its test logits.
func fineTune(t testing.TB, r *Replica, tr, te []data.Sample, opt optim.Optimizer) []float32 {
	y := labelsOf(tr)
	for i := range y {
		y[i] *= 2 // SoftPositive-style labels outside [0, 1]
	}
	for e := range 2 {
		opt.SetEpoch(e)
		for lo := 0; lo < len(tr); lo += 8 {
			hi := min(lo+8, len(tr))
			if _, err := r.TrainStep(tr[lo:hi], y[lo:hi], opt); err != nil {
				t.Error(err)
			}
		}
	}
	z := make([]float32, len(te))
	if err := r.Predict(te, z); err != nil {
		t.Error(err)
	}
	return z
}

func newOpts(t testing.TB) map[string]func() optim.Optimizer {
	return map[string]func() optim.Optimizer{
		"SGD":  func() optim.Optimizer { return mustSGD(t, 0.05) },
		"Adam": func() optim.Optimizer { return mustAdam(t, 0.01) },
	}
}

func saveBytes(t testing.TB, m *Model) []byte {
	var b bytes.Buffer
	if _, err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReplicaMatchesFullCopy: fine-tuning a replica gives bit-for-bit the
// predictions of fine-tuning a full copy of the base, and leaves the base
// bit-identical.
func TestReplicaMatchesFullCopy(t *testing.T) {
	train, test := userData(6)
	for _, cfg := range fineConfigs() {
		base := pretrained(t, cfg, train)
		before := saveBytes(t, base)
		for name, newOpt := range newOpts(t) {
			r, err := base.Fork()
			if err != nil {
				t.Fatal(err)
			}
			for u := range train {
				r.Reset()
				got := fineTune(t, r, train[u], test[u], newOpt())
				cp, err := Load(bytes.NewReader(before))
				if err != nil {
					t.Fatal(err)
				}
				// A full copy is not a replica; wrap it to reuse fineTune.
				want := fineTune(t, &Replica{Model: cp}, train[u], test[u], newOpt())
				if !equalFloats(got, want) {
					t.Fatalf("%s %s user %d: replica %v, full copy %v", cfg.Arch, name, u, got, want)
				}
				if cloud := predict(t, base, test[u]); equalFloats(cloud, got) {
					t.Errorf("%s %s user %d: fine-tuning changed no prediction", cfg.Arch, name, u)
				}
				// A replica saves as the full model it stands for.
				merged, err := Load(bytes.NewReader(saveBytes(t, r.Model)))
				if err != nil {
					t.Fatal(err)
				}
				if !equalFloats(predict(t, merged, test[u]), got) {
					t.Errorf("%s %s user %d: saved replica predicts differently", cfg.Arch, name, u)
				}
			}
			if r.OverlayRows() == 0 || r.OverlayRows() > 200 {
				t.Errorf("%s %s: %d overlay rows after one user", cfg.Arch, name, r.OverlayRows())
			}
			r.Reset()
			if r.OverlayRows() != 0 {
				t.Error("Reset left overlay rows")
			}
			if !equalFloats(predict(t, r.Model, test[0]), predict(t, base, test[0])) {
				t.Errorf("%s %s: reset replica predicts differently from its base", cfg.Arch, name)
			}
		}
		if !bytes.Equal(before, saveBytes(t, base)) {
			t.Errorf("%s: fine-tuning replicas changed the base model", cfg.Arch)
		}
	}
}

// TestReplicaDeterministic: per-user results do not depend on the replica,
// the order of users or the goroutine.
func TestReplicaDeterministic(t *testing.T) {
	train, test := userData(12)
	for _, cfg := range fineConfigs() {
		base := pretrained(t, cfg, train)
		for name, newOpt := range newOpts(t) {
			// Reference: a fresh replica per user.
			want := make([][]float32, len(train))
			for u := range train {
				r, err := base.Fork()
				if err != nil {
					t.Fatal(err)
				}
				want[u] = fineTune(t, r, train[u], test[u], newOpt())
			}
			// 3 workers, each reusing one replica and one optimizer, users
			// handed out in reverse order.
			got := make([][]float32, len(train))
			users := make(chan int)
			var wg sync.WaitGroup
			for range 3 {
				r, err := base.Fork()
				if err != nil {
					t.Fatal(err)
				}
				opt := newOpt()
				wg.Go(func() {
					for u := range users {
						r.Reset()
						got[u] = fineTune(t, r, train[u], test[u], opt)
					}
				})
			}
			for u := len(train) - 1; u >= 0; u-- {
				users <- u
			}
			close(users)
			wg.Wait()
			for u := range train {
				if !equalFloats(got[u], want[u]) {
					t.Errorf("%s %s user %d: %v with reused replicas, %v with fresh ones", cfg.Arch, name, u, got[u], want[u])
				}
			}
		}
	}
}

func TestReplicaStaleBase(t *testing.T) {
	train, test := userData(2)
	base := pretrained(t, fineConfigs()[1], train)
	r, err := base.Fork()
	if err != nil {
		t.Fatal(err)
	}
	fineTune(t, r, train[0], test[0], mustSGD(t, 0.1))
	step(t, base, train[1], labelsOf(train[1]), mustSGD(t, 0.1))
	if err := r.Predict(test[0], make([]float32, len(test[0]))); err == nil || !strings.Contains(err.Error(), "Reset the replica") {
		t.Errorf("stale replica Predict: %v", err)
	}
	if _, err := r.TrainStep(train[0], labelsOf(train[0]), mustSGD(t, 0.1)); err == nil {
		t.Error("stale replica trained")
	}
	r.Reset()
	if !equalFloats(predict(t, r.Model, test[0]), predict(t, base, test[0])) {
		t.Error("replica reset after a base update does not match the base")
	}
	if _, err := r.Fork(); err == nil {
		t.Error("forked a replica")
	}
}

package model_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"sync"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// Example shows the three ways a runner uses the package: cloud
// pretraining of a base model, per-user fine-tuning on replicas reused by
// worker goroutines, and fine-tuning one replica on a cohort's pooled data.
func Example() {
	schema := data.Schema{NumUsers: 8, NumItems: 20, NumCategories: 3, HistoryLen: 4}
	rng := rand.New(rand.NewPCG(1, 2))
	users := make([][]data.Sample, schema.NumUsers)
	for u := range users {
		for i := range 40 {
			item := int32(rng.IntN(schema.NumItems))
			users[u] = append(users[u], data.NewSample(int32(u), item, []int32{item % 3}, nil, nil, float32(rng.IntN(2)), int64(i)))
		}
	}
	labels := func(s []data.Sample, pos, neg float32) []float32 {
		y := make([]float32, len(s))
		for i := range s {
			y[i] = neg
			if s[i].Label == 1 {
				y[i] = pos
			}
		}
		return y
	}

	// (a) Cloud pretraining: SGD, lr 1.0 decayed by 0.1 per epoch.
	global, err := model.New(model.Config{Arch: model.ArchWideDeep, EmbeddingDim: 8, HiddenUnits: []int{16, 8}, Seed: 1}, schema)
	if err != nil {
		log.Fatal(err)
	}
	sgd, _ := optim.NewSGD(1.0, 0.1)
	for epoch := range 2 {
		sgd.SetEpoch(epoch)
		for _, s := range users {
			y := labels(s, 1, 0)
			for lo := 0; lo < len(s); lo += 32 {
				hi := min(lo+32, len(s))
				if _, err := global.TrainStep(s[lo:hi], y[lo:hi], sgd); err != nil {
					log.Fatal(err)
				}
			}
		}
	}

	// (b) Per-user fine-tuning: one replica and one optimizer per worker,
	// Reset before each user; the global model stays read-only.
	jobs := make(chan int)
	results := make([][]float32, len(users))
	var wg sync.WaitGroup
	for range 2 {
		r, err := global.Fork()
		if err != nil {
			log.Fatal(err)
		}
		opt, _ := optim.NewSGD(0.01, 1)
		wg.Go(func() {
			for u := range jobs {
				r.Reset()
				train, test := users[u][:32], users[u][32:]
				y := labels(train, 2, 0) // e.g. SoftPositive labels
				if _, err := r.TrainStep(train, y, opt); err != nil {
					log.Fatal(err)
				}
				results[u] = make([]float32, len(test))
				if err := r.Predict(test, results[u]); err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	for u := range users {
		jobs <- u
	}
	close(jobs)
	wg.Wait()

	// (c) Pooled fine-tuning: one replica per cohort, trained on the
	// cohort's samples; Save writes it as a full model.
	cohort, _ := global.Fork()
	opt, _ := optim.NewSGD(0.01, 1)
	for _, u := range []int{1, 4, 6} {
		s := users[u][:32]
		if _, err := cohort.TrainStep(s, labels(s, 1, 0.2), opt); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(len(results), cohort.OverlayRows() > 0)
	// Output: 8 true
}

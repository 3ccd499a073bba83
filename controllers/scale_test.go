package controllers

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// TestControllerScale measures the operator alone at two cohort counts in
// the same process: the fake cluster answers each shard with a fixed summary
// instead of running the trainer, so the time is the operator's (watches,
// Job creation, status aggregation) plus the fake cluster's API writes.
// It prints the per-cohort time of both runs and their ratio (1 means the
// cost per cohort does not grow with the number of cohorts).
//
//	LCFT_SCALE=20,200 hack/bench-controller.sh
func TestControllerScale(t *testing.T) {
	needEnv(t)
	sizes := os.Getenv("LCFT_SCALE")
	if sizes == "" {
		t.Skip("set LCFT_SCALE=small,large (hack/bench-controller.sh) to measure the controller at scale")
	}
	var small, large int
	if _, err := fmt.Sscanf(sizes, "%d,%d", &small, &large); err != nil || small < 1 || large < small {
		t.Fatalf("LCFT_SCALE=%q: want two counts, small,large", sizes)
	}
	perCohort := map[int]time.Duration{}
	for _, n := range []int{small, large} {
		perCohort[n] = runCohorts(t, n)
	}
	ratio := float64(perCohort[large]) / float64(perCohort[small])
	t.Logf("controller scale: %d cohorts %.1f ms/cohort, %d cohorts %.1f ms/cohort; ratio %.2f",
		small, ms(perCohort[small]), large, ms(perCohort[large]), ratio)
	fmt.Printf("controller scale: %d cohorts %.1f ms/cohort, %d cohorts %.1f ms/cohort; ratio large/small %.2f\n",
		small, ms(perCohort[small]), large, ms(perCohort[large]), ratio)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runCohorts creates n two-shard cohorts at once in a new namespace and
// returns the wall time per cohort until all are Succeeded.
func runCohorts(t *testing.T, n int) time.Duration {
	ctx := context.Background()
	ns := newNamespace(t)
	newFakeCluster(t, ns, func(f *fakeCluster) { f.canned = cannedShard })
	stop := startManager(t)
	defer stop()

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	start := time.Now()
	for i := range n {
		create(t, cohortObj(ns, "c-"+strconv.Itoa(i), "wd", withShards(2)))
	}
	eventually(t, 10*time.Minute, fmt.Sprintf("%d cohorts to succeed", n), func() (bool, error) {
		var list v1.FineTuneCohortList
		if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		done := 0
		for _, c := range list.Items {
			if c.Status.Phase == v1.PhaseFailed {
				t.Fatalf("cohort %s failed: %+v", c.Name, c.Status.Conditions)
			}
			if c.Status.Phase == v1.PhaseSucceeded {
				done++
			}
		}
		return done == n, fmt.Errorf("%d of %d done", done, n)
	})
	return time.Since(start) / time.Duration(n)
}

func cannedShard(spec *runspec.Spec, idx int) (int, string) {
	s := runspec.Summary{Kind: spec.Kind, Shard: idx, Arch: "amd64", Finetune: &runspec.FinetuneStats{
		Cloud: runspec.WeightedAUC{Sum: 7, Weight: 10}, Local: runspec.WeightedAUC{Sum: 7.1, Weight: 10}, LCFT: runspec.WeightedAUC{Sum: 7.2, Weight: 10},
		Users: 1, Improved: 1, Samples: 10, LocalCTRSum: 0.3, PositiveLabelSum: 10, Seconds: 0.01,
	}}
	b, err := s.Encode()
	if err != nil {
		return runspec.ExitFailure, err.Error()
	}
	return 0, string(b)
}

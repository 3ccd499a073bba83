package controllers

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// histogramCount is the number of observations of h.
func histogramCount(t *testing.T, h prometheus.Observer) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// gatheredRuns is lcft_runs{kind, phase} as the manager serves it.
func gatheredRuns(t *testing.T, kind string, phase v1.Phase) (float64, bool) {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != "lcft_runs" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["phase"] == string(phase) {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestRunMetrics checks the dashboard's metrics on real runs: lcft_runs
// equals the cohorts per phase the API server holds, a succeeded and a
// failed run each add a run duration, and a succeeded cohort adds its users.
func TestRunMetrics(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	succeeded := histogramCount(t, runDuration.WithLabelValues("FineTuneCohort", "succeeded"))
	failed := histogramCount(t, runDuration.WithLabelValues("FineTuneCohort", "failed"))
	models := histogramCount(t, runDuration.WithLabelValues("GlobalModel", "succeeded"))
	users := testutil.ToFloat64(cohortUsers)

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	good := cohortObj(ns, "good", "wd")
	broken := cohortObj(ns, "broken", "wd", withDataset(missingDataset()))
	create(t, good, broken)
	waitCohort(t, good, v1.PhaseSucceeded)
	waitCohort(t, broken, v1.PhaseFailed)

	if got := histogramCount(t, runDuration.WithLabelValues("FineTuneCohort", "succeeded")) - succeeded; got != 1 {
		t.Errorf("succeeded cohort run durations observed: %d, want 1", got)
	}
	if got := histogramCount(t, runDuration.WithLabelValues("FineTuneCohort", "failed")) - failed; got != 1 {
		t.Errorf("failed cohort run durations observed: %d, want 1", got)
	}
	if got := histogramCount(t, runDuration.WithLabelValues("GlobalModel", "succeeded")) - models; got != 1 {
		t.Errorf("pretraining run durations observed: %d, want 1", got)
	}
	if got, want := testutil.ToFloat64(cohortUsers)-users, float64(good.Status.Users); got != want || want == 0 {
		t.Errorf("lcft_cohort_users_total grew by %v, want the cohort's %d users", got, good.Status.Users)
	}

	// lcft_runs counts what the cache holds: eventually the API server's
	// cohorts per phase, over all namespaces.
	eventually(t, runTimeout, "lcft_runs to match the cohorts' phases", func() (bool, error) {
		var list v1.FineTuneCohortList
		if err := k8sClient.List(context.Background(), &list); err != nil {
			return false, err
		}
		want := map[v1.Phase]float64{}
		for _, c := range list.Items {
			want[c.Status.Phase]++
		}
		for _, ph := range []v1.Phase{v1.PhaseSucceeded, v1.PhaseFailed, v1.PhaseRunning} {
			got, ok := gatheredRuns(t, "FineTuneCohort", ph)
			if !ok || got != want[ph] {
				return false, fmt.Errorf("lcft_runs{kind=FineTuneCohort,phase=%s} = %v (present %t), the API server has %v", ph, got, ok, want[ph])
			}
		}
		return want[v1.PhaseSucceeded] >= 1 && want[v1.PhaseFailed] >= 1, nil
	})
	if got, ok := gatheredRuns(t, "GlobalModel", v1.PhaseReady); !ok || got < 1 {
		t.Errorf("lcft_runs{kind=GlobalModel,phase=Ready} = %v (present %t), want at least 1", got, ok)
	}
}

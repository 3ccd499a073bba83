package controllers

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

var (
	jobCreationLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "lcft_cohort_job_creation_latency_seconds",
		Help:    "Time from a FineTuneCohort's creation to the creation of its Job (waiting for dependencies included).",
		Buckets: prometheus.ExponentialBuckets(0.05, 1.5, 24), // 0.05 s to 9 min in steps of 1.5x
	})
	cohortAUC = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lcft_cohort_auc",
		Help: "User-level AUC of a FineTuneCohort's last successful run, by kind: cloud (no fine-tuning), local (original labels), lcft (corrected labels).",
	}, []string{"namespace", "cohort", "kind"})
	jobsCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lcft_jobs_created_total",
		Help: "Jobs created by the operator, by owner kind.",
	}, []string{"owner_kind"})
	jobsFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lcft_jobs_failed_total",
		Help: "Runs whose Job failed (or finished without valid summaries), by owner kind.",
	}, []string{"owner_kind"})
)

func init() {
	metrics.Registry.MustRegister(jobCreationLatency, cohortAUC, jobsCreated, jobsFailed)
}

// The AUC series of a cohort live as long as the cohort: they go when it is
// deleted (forgetCohort), and a restarted manager, whose registry starts
// empty, serves them again from the status of the cohorts that succeeded
// (the reconciler calls recordAUCs on every finished cohort it reads).

// forgetCohort deletes the series of a deleted cohort.
func forgetCohort(namespace, name string) {
	cohortAUC.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "cohort": name})
}

// The metrics of the Grafana dashboard (charts/lcft-operator/files/dashboards).
var (
	runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lcft_run_duration_seconds",
		Help:    "Time from a run's Job start to its completion or failure, by owner kind and result (succeeded, failed).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{"owner_kind", "result"})
	cohortUsers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lcft_cohort_users_total",
		Help: "Users fine-tuned and evaluated by successful FineTuneCohort runs (its rate is users per second).",
	})
	runPhases = &phaseCollector{desc: prometheus.NewDesc("lcft_runs",
		"Objects of the operator by kind and status.phase (an empty phase: not reconciled yet), counted from the manager's cache at each scrape.",
		[]string{"kind", "phase"}, nil)}
)

func init() {
	metrics.Registry.MustRegister(runDuration, cohortUsers, runPhases)
}

// observeRunEnd records the duration of a finished run (its Job's start
// to its completion time) with the phase it ended in, once per Job: a
// reconcile that reads its object from a cache still behind the last status
// write sees the same end again, and must not count it twice. It reports
// whether this call recorded the end.
func observeRunEnd(kind string, job *batchv1.Job, phase finetunev1alpha1.Phase) bool {
	if !endedRuns.first(job.UID) {
		return false
	}
	end := completionTime(job)
	if job.Status.StartTime == nil || end == nil {
		return true
	}
	result := "failed"
	if phase == finetunev1alpha1.PhaseSucceeded || phase == finetunev1alpha1.PhaseReady {
		result = "succeeded"
	}
	runDuration.WithLabelValues(kind, result).Observe(end.Sub(job.Status.StartTime.Time).Seconds())
	return true
}

// endedRuns remembers the UIDs of the last runs whose end was recorded.
var endedRuns = recentSet[types.UID]{size: 4096}

// recentSet is a bounded set: adding to a full set forgets the oldest.
// Stale cache reads come seconds after the write they lag, so the last few
// thousand entries are enough.
type recentSet[K comparable] struct {
	mu    sync.Mutex
	size  int
	seen  map[K]struct{}
	order []K
}

// first adds k and reports whether it was not in the set.
func (s *recentSet[K]) first(k K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[k]; ok {
		return false
	}
	if s.seen == nil {
		s.seen = make(map[K]struct{}, s.size)
	}
	if len(s.order) == s.size {
		delete(s.seen, s.order[0])
		s.order = s.order[1:]
	}
	s.seen[k] = struct{}{}
	s.order = append(s.order, k)
	return true
}

// add puts k in the set.
func (s *recentSet[K]) add(k K) { s.first(k) }

// has reports whether k is in the set.
func (s *recentSet[K]) has(k K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[k]
	return ok
}

// phaseCollector reports lcft_runs from the reader (the manager's cache)
// set by SetupWithManager; without one it reports nothing.
type phaseCollector struct {
	desc   *prometheus.Desc
	reader atomic.Pointer[client.Reader]
}

func (p *phaseCollector) setReader(r client.Reader) { p.reader.Store(&r) }

func (p *phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// phases every kind reports (zero when no object is in them), so that
// dashboards see a series per phase.
var phases = []finetunev1alpha1.Phase{
	finetunev1alpha1.PhasePending, finetunev1alpha1.PhaseWaiting, finetunev1alpha1.PhaseRunning, finetunev1alpha1.PhaseSucceeded,
	finetunev1alpha1.PhaseFailed, finetunev1alpha1.PhaseSuspended, finetunev1alpha1.PhaseQueued, finetunev1alpha1.PhaseReady,
}

func (p *phaseCollector) Collect(ch chan<- prometheus.Metric) {
	rp := p.reader.Load()
	if rp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lists := []struct {
		kind string
		list client.ObjectList
	}{
		{"GlobalModel", &finetunev1alpha1.GlobalModelList{}},
		{"CorrectionPolicy", &finetunev1alpha1.CorrectionPolicyList{}},
		{"FineTuneCohort", &finetunev1alpha1.FineTuneCohortList{}},
	}
	for _, l := range lists {
		// Read-only: the cache's own objects, not a copy of thousands.
		if err := (*rp).List(ctx, l.list, client.UnsafeDisableDeepCopy); err != nil {
			continue // cache not started or stopped: no sample rather than a failed scrape
		}
		items, err := meta.ExtractList(l.list)
		if err != nil {
			continue
		}
		counts := make(map[finetunev1alpha1.Phase]int, len(phases))
		for _, ph := range phases {
			counts[ph] = 0
		}
		for _, o := range items {
			counts[phaseOf(o)]++
		}
		for ph, n := range counts {
			ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(n), l.kind, string(ph))
		}
	}
}

func phaseOf(o runtime.Object) finetunev1alpha1.Phase {
	switch o := o.(type) {
	case *finetunev1alpha1.GlobalModel:
		return o.Status.Phase
	case *finetunev1alpha1.CorrectionPolicy:
		return o.Status.Phase
	case *finetunev1alpha1.FineTuneCohort:
		return o.Status.Phase
	}
	return ""
}

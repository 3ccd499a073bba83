package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	jobCreationLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "lcft_cohort_job_creation_latency_seconds",
		Help:    "Time from a FineTuneCohort's creation to the creation of its Job (waiting for dependencies included).",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
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

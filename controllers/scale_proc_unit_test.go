package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The benchmark's reading of the operator's histogram, checked by hand.
func TestHistogramQuantile(t *testing.T) {
	const text = `# HELP lcft_cohort_job_creation_latency_seconds Time.
# TYPE lcft_cohort_job_creation_latency_seconds histogram
lcft_cohort_job_creation_latency_seconds_bucket{le="0.5"} 10
lcft_cohort_job_creation_latency_seconds_bucket{le="1"} 50
lcft_cohort_job_creation_latency_seconds_bucket{le="2"} 90
lcft_cohort_job_creation_latency_seconds_bucket{le="4"} 100
lcft_cohort_job_creation_latency_seconds_bucket{le="+Inf"} 100
lcft_cohort_job_creation_latency_seconds_sum 123.4
lcft_cohort_job_creation_latency_seconds_count 100
controller_runtime_reconcile_total{controller="finetunecohort",result="success"} 250
controller_runtime_reconcile_total{controller="finetunecohort",result="error"} 3
`
	samples, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	type got struct{ P10, P50, P99, Count, Success, Missing float64 }
	var g got
	g.P10, g.Count = histogramQuantile(samples, "lcft_cohort_job_creation_latency_seconds", 0.1)
	g.P50, _ = histogramQuantile(samples, "lcft_cohort_job_creation_latency_seconds", 0.5)
	g.P99, _ = histogramQuantile(samples, "lcft_cohort_job_creation_latency_seconds", 0.99)
	g.Success = metricValue(samples, "controller_runtime_reconcile_total", map[string]string{"controller": "finetunecohort", "result": "success"})
	g.Missing = metricValue(samples, "controller_runtime_reconcile_total", map[string]string{"controller": "globalmodel"})
	// rank 10 ends the first bucket: 0.5; rank 50 ends (0.5, 1]: 1;
	// rank 99 is 9/10 of the way through (2, 4]: 3.8.
	want := got{P10: 0.5, P50: 1, P99: 3.8, Count: 100, Success: 250}
	if diff := cmp.Diff(want, g, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The benchmark runs the manager with the GOMEMLIMIT that the chart's
// default values render (charts/test checks the rendered env: 90% of 256Mi).
func TestBenchGoMemLimitIsTheChartDefault(t *testing.T) {
	t.Setenv("LCFT_BENCH_GOMEMLIMIT", "")
	if got, want := benchGoMemLimit(t), "241591860"; got != want {
		t.Errorf("GOMEMLIMIT from the chart's values = %q, want %q", got, want)
	}
}

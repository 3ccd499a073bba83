package charttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	// The operator's metrics, registered by the controllers package.
	_ "github.com/lcft-dev/lcft-operator/controllers"
)

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func dashboardFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "files", "dashboards", "lcft-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricName matches the operator's series in a PromQL expression.
var metricName = regexp.MustCompile(`\blcft_[a-z0-9_]+\b`)

// registered reports whether the operator registered a metric family named
// name in controller-runtime's registry (the one the manager serves):
// registering another collector under a registered name fails.
func registered(name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe of the dashboard test"})
	if err := metrics.Registry.Register(probe); err != nil {
		return true
	}
	metrics.Registry.Unregister(probe)
	return false
}

// checkDashboard decodes raw as a dashboard and checks that each panel has
// queries and that every lcft_ series they name is a registered metric
// (the _bucket, _sum and _count series of a histogram by its name).
func checkDashboard(t *testing.T, raw []byte) *dashboard {
	t.Helper()
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if !json.Valid(raw) {
		t.Fatalf("the dashboard is not valid JSON")
	}
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decoding the dashboard: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q with %d panels", d.UID, d.Title, len(d.Panels))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names := metricName.FindAllString(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q query %s names no lcft_ metric: %s", p.Title, q.RefID, q.Expr)
			}
			for _, n := range names {
				base := n
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && registered(b) {
						base = b
					}
				}
				if !registered(base) {
					t.Errorf("panel %q queries %s, which the operator does not register", p.Title, n)
				}
			}
		}
	}
	return &d
}

func TestDashboardMetricsExist(t *testing.T) {
	d := checkDashboard(t, dashboardFile(t))
	// The panels the issue asks for, by the metric each needs.
	var all []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			all = append(all, metricName.FindAllString(q.Expr, -1)...)
		}
	}
	for _, want := range []string{"lcft_runs", "lcft_cohort_job_creation_latency_seconds_bucket", "lcft_run_duration_seconds_bucket", "lcft_cohort_users_total"} {
		if !slices.Contains(all, want) {
			t.Errorf("no panel queries %s", want)
		}
	}
}

// The check itself: a name nobody registered is not taken for a metric.
func TestRegisteredProbe(t *testing.T) {
	if registered("lcft_no_such_metric_total") {
		t.Fatal("lcft_no_such_metric_total reported as registered")
	}
	if !registered("lcft_jobs_created_total") {
		t.Fatal("lcft_jobs_created_total not reported as registered")
	}
	// The probe unregisters itself: asking again gives the same answer.
	if registered("lcft_no_such_metric_total") {
		t.Fatal("the first probe left lcft_no_such_metric_total registered")
	}
}

func TestDashboardConfigMap(t *testing.T) {
	helmBinary(t)
	if cms := render(t).find("ConfigMap", "lcft-operator-dashboard"); len(cms) != 0 {
		t.Errorf("dashboard ConfigMap rendered by default")
	}
	r := render(t, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring",
		"--set", "grafanaDashboard.annotations.grafana_folder=LCFT")
	var cm corev1.ConfigMap
	r.one(t, "ConfigMap", "lcft-operator-dashboard", &cm)
	if cm.Namespace != "monitoring" || cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] != "LCFT" {
		t.Errorf("ConfigMap namespace %q labels %v annotations %v, want monitoring, grafana_dashboard=1, grafana_folder=LCFT", cm.Namespace, cm.Labels, cm.Annotations)
	}
	got := cm.Data["lcft-operator.json"]
	checkDashboard(t, []byte(got))
	if diff := cmp.Diff(strings.TrimSpace(string(dashboardFile(t))), strings.TrimSpace(got)); diff != "" {
		t.Errorf("the ConfigMap's dashboard differs from files/dashboards/lcft-operator.json (-file +rendered):\n%s", diff)
	}
	r = render(t, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.label=grafana.example.com/dashboard", "--set", "grafanaDashboard.labelValue=lcft")
	r.one(t, "ConfigMap", "lcft-operator-dashboard", &cm)
	if cm.Namespace != namespace || cm.Labels["grafana.example.com/dashboard"] != "lcft" {
		t.Errorf("ConfigMap namespace %q labels %v, want %s and grafana.example.com/dashboard=lcft", cm.Namespace, cm.Labels, namespace)
	}
}

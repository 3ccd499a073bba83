package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// progressServer plays a trainer's progress endpoint: it serves doc, and
// records when it was asked.
type progressServer struct {
	mu    sync.Mutex
	doc   runspec.Progress
	asked []time.Time
}

func (s *progressServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != runspec.ProgressPath {
		http.NotFound(w, r)
		return
	}
	s.asked = append(s.asked, time.Now())
	_ = json.NewEncoder(w).Encode(s.doc)
}

func (s *progressServer) set(done int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc.Done = done
}

func (s *progressServer) polls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.asked...)
}

// A running cohort's status.progress follows what its shard's pod serves,
// the Progress printer column shows it, and the manager neither polls nor
// writes it more often than the interval, however often the cohort is
// reconciled; once the run succeeds, progress is complete.
func TestProgressMovesDuringRun(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	srv := &progressServer{doc: runspec.Progress{Kind: runspec.KindFinetune, Stage: "fine-tuning", Unit: runspec.UnitUsers, Done: 10, Total: 100, StageSeconds: 20}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	u, err := url.Parse(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	const interval = 2 * time.Second
	ns, cluster, _ := modelReady(t, func(o *Options) { o.ProgressPort, o.ProgressInterval = int32(port), interval })
	cluster.hold("prog-")
	c := cohortObj(ns, "prog", "wd")
	create(t, c)
	waitCohort(t, c, v1.PhaseRunning)
	job := onlyJob(t, ns, "prog")
	if env := job.Spec.Template.Spec.Containers[0].Env; !hasEnv(env, runspec.EnvProgressAddr, ":"+u.Port()) {
		t.Fatalf("the trainer is not told to serve progress on :%s: %v", u.Port(), env)
	}

	// The shard's pod, made by the Job (its controller reference), running
	// at 127.0.0.1, where the test's endpoint listens.
	pod := cluster.podFor(&job, 0, 9)
	pod.Spec.NodeName = "node-amd64"
	create(t, pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}}
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

	waitProgress(t, ns, "prog", 10)
	srv.set(40)
	p := waitProgress(t, ns, "prog", 40)
	// 40 users in 20 s: 2 per second, 60 left: 30 s.
	if p.Total != 100 || p.Percent != 40 || p.Unit != "users" || p.RatePerSecond != "2.0" || p.ETASeconds == nil || *p.ETASeconds != 30 ||
		p.ShardsReporting != 1 || len(p.Shards) != 1 || p.Shards[0].Done != 40 {
		t.Errorf("progress %+v; want 40 of 100 users at 2.0/s, ETA 30 s, one shard", p)
	}
	const want = "40% (40/100 users, ETA 30s)"
	if got := printerColumn(t, ns, "prog", "Progress"); got != want {
		t.Errorf("printer column Progress %q, want %q", got, want)
	}

	// Rate bound: reconcile the cohort again and again (each label change
	// is an event) while the endpoint changes; polls stay an interval
	// apart, and so do the progress writes.
	seen := map[metav1.Time]bool{}
	for i := range 20 {
		srv.set(41 + int64(i))
		patch := client.MergeFrom(c.DeepCopy())
		c.Labels = map[string]string{"poke": strconv.Itoa(i)}
		if err := k8sClient.Patch(ctx, c, patch); err != nil {
			t.Fatal(err)
		}
		seen[getCohort(t, ns, "prog").Status.Progress.UpdatedAt] = true
	}
	waitProgress(t, ns, "prog", 60)
	polls := srv.polls()
	for i := 1; i < len(polls); i++ {
		// UpdatedAt has whole seconds, so the next poll may come up to a
		// second before a full interval after the last (and the requests'
		// own latency moves the server's clock a little); unbounded, the
		// pokes would bring polls milliseconds apart.
		if gap := polls[i].Sub(polls[i-1]); gap < interval/4 {
			t.Errorf("polls %d and %d are %s apart; the interval is %s", i-1, i, gap, interval)
		}
	}
	var times []time.Time
	for at := range seen {
		times = append(times, at.Time)
	}
	for i := range times {
		for j := range times {
			if i != j && times[i].Before(times[j]) && times[j].Sub(times[i]) < interval {
				t.Errorf("progress written at %s and %s, less than %s apart", times[i], times[j], interval)
			}
		}
	}
	t.Logf("%d polls in the rate-bound phase and before", len(polls))

	cluster.release("prog-")
	waitCohort(t, c, v1.PhaseSucceeded)
	if p := c.Status.Progress; p == nil || p.Done != 100 || p.Percent != 100 || p.ETASeconds != nil || p.Summary != "done" {
		t.Errorf("progress after the run %+v; want done, 100 of 100 users, no ETA", p)
	}
}

func hasEnv(env []corev1.EnvVar, name, value string) bool {
	for _, e := range env {
		if e.Name == name && e.Value == value {
			return true
		}
	}
	return false
}

// waitProgress waits until the cohort's status.progress says done.
func waitProgress(t *testing.T, ns, name string, done int64) *v1.RunProgress {
	t.Helper()
	var p *v1.RunProgress
	eventually(t, runTimeout, fmt.Sprintf("status.progress.done of %s to be %d", name, done), func() (bool, error) {
		p = getCohort(t, ns, name).Status.Progress
		if p == nil {
			return false, fmt.Errorf("no progress")
		}
		return p.Done == done, fmt.Errorf("progress %+v", *p)
	})
	return p
}

// printerColumn is the value kubectl get shows in column of the named
// cohort: the API server's table form of the CRD's printer columns.
func printerColumn(t *testing.T, ns, name, column string) string {
	t.Helper()
	table := cohortTable(t, ns)
	for i, col := range table.ColumnDefinitions {
		if col.Name != column {
			continue
		}
		for _, row := range table.Rows {
			if len(row.Cells) > i && row.Cells[0] == name {
				s, _ := row.Cells[i].(string)
				return s
			}
		}
	}
	t.Fatalf("no column %s of %s in %+v", column, name, table)
	return ""
}

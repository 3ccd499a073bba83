package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/yaml"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// TestControllerScale is make bench-controller (hack/bench-controller.sh),
// and skips unless LCFT_BENCH_COHORTS is set. For each count of cohorts it
// measures, in this order and on the same envtest API server:
//
//   - the ceiling: a plain client creates the cohorts and, with as many
//     workers as the manager has per controller, the ConfigMap and Job of
//     each (built by the operator's own builder) as soon as its cohort
//     exists; no cache, no watch, no status;
//   - the operator: the manager binary, as a process of its own, turns the
//     same number of cohorts, created the same way, into their Jobs.
//
// Both start with a Ready GlobalModel and CorrectionPolicy that every cohort
// uses. A watch on Jobs times both from the first cohort's creation until
// every Job exists. For the operator it also reads the create-to-Job latency
// from the operator's histogram, and the manager's RSS and CPU time from
// /proc. Nothing here asserts a time: it checks that every cohort got one
// Job and prints the figures.
//
//	LCFT_BENCH_COHORTS=1000,5000 LCFT_BENCH_MANAGER=bin/manager go test ./controllers -run TestControllerScale
func TestControllerScale(t *testing.T) {
	needEnv(t)
	sizes := benchSizes(t)
	bin := os.Getenv("LCFT_BENCH_MANAGER")
	if bin == "" {
		t.Fatal("LCFT_BENCH_MANAGER names the manager binary (hack/bench-controller.sh builds it)")
	}
	b := &scaleBench{
		t:           t,
		bin:         bin,
		kubeconfig:  writeKubeconfig(t, restConfig),
		workers:     envInt(t, "LCFT_BENCH_WORKERS", DefaultTuning().MaxConcurrentReconciles),
		creators:    envInt(t, "LCFT_BENCH_CREATORS", 8),
		managerArgs: strings.Fields(os.Getenv("LCFT_BENCH_MANAGER_ARGS")),
		timeout:     time.Duration(envInt(t, "LCFT_BENCH_TIMEOUT_MINUTES", 30)) * time.Minute,
	}
	b.managerArgs = append([]string{"--max-concurrent-reconciles=" + strconv.Itoa(b.workers)}, b.managerArgs...)
	if limit := benchGoMemLimit(t); limit != "" {
		b.managerEnv = []string{"GOMEMLIMIT=" + limit}
	}
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS = -1 // no client-side limit, like the manager's default
	var err error
	if b.client, err = client.New(cfg, client.Options{Scheme: testScheme}); err != nil {
		t.Fatal(err)
	}
	if b.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("controller scale: %d workers per controller (ceiling: as many), %d cohort creators, manager flags %v, env %v; load average %s\n",
		b.workers, b.creators, b.managerArgs, b.managerEnv, loadAverage())
	var rows []string
	for _, n := range sizes {
		ceilingNS, operatorNS := b.prepare()
		ceiling := b.runCeiling(ceilingNS, n)
		fmt.Println(ceiling.line("ceiling "))
		operator := b.runOperator(operatorNS, n)
		fmt.Println(operator.line("operator"))
		rows = append(rows, fmt.Sprintf("| %d | %.1f s | %.1f s | %.0f%% | %.2f / %.2f s (%.2f / %.2f s) | %.0f MiB (peak %.0f) | %.1f s | %.1f / %.1f s | %s |",
			n, ceiling.wall.Seconds(), operator.wall.Seconds(), 100*ceiling.wall.Seconds()/operator.wall.Seconds(),
			operator.metricP50, operator.metricP99, operator.p50.Seconds(), operator.p99.Seconds(),
			mib(operator.manager.rssKiB), mib(operator.manager.peakKiB), operator.manager.cpu.Seconds(),
			ceiling.controlPlane.Seconds(), operator.controlPlane.Seconds(), operator.load))
	}
	fmt.Println("| cohorts | ceiling: all Jobs | operator: all Jobs | operator / ceiling rate | create-to-Job p50 / p99, operator's metric (watch) | manager RSS | manager CPU | apiserver+etcd CPU, ceiling / operator | load average after |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
}

func benchSizes(t *testing.T) []int {
	raw := os.Getenv("LCFT_BENCH_COHORTS")
	if raw == "" {
		t.Skip("set LCFT_BENCH_COHORTS=1000,5000 (make bench-controller) to measure the operator at scale")
	}
	var sizes []int
	for _, f := range strings.Split(raw, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("LCFT_BENCH_COHORTS=%q: want counts of cohorts separated by commas", raw)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// benchGoMemLimit is the manager's GOMEMLIMIT: LCFT_BENCH_GOMEMLIMIT ("off":
// none), by default what the chart's default values give
// (tuning.goMemLimitPercent of resources.limits.memory, in whole bytes as
// the chart's template computes it).
func benchGoMemLimit(t *testing.T) string {
	if v := os.Getenv("LCFT_BENCH_GOMEMLIMIT"); v != "" {
		if v == "off" {
			return ""
		}
		return v
	}
	raw, err := os.ReadFile(filepath.Join("..", "charts", "lcft-operator", "values.yaml"))
	if err != nil {
		t.Fatalf("reading the chart's values: %v", err)
	}
	var values struct {
		Resources struct {
			Limits map[string]string `json:"limits"`
		} `json:"resources"`
		Tuning struct {
			GoMemLimitPercent int64 `json:"goMemLimitPercent"`
		} `json:"tuning"`
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatalf("reading the chart's values: %v", err)
	}
	memory, ok := values.Resources.Limits["memory"]
	if !ok || values.Tuning.GoMemLimitPercent == 0 {
		return ""
	}
	q, err := resource.ParseQuantity(memory)
	if err != nil {
		t.Fatalf("the chart's resources.limits.memory %q: %v", memory, err)
	}
	return strconv.FormatInt(q.Value()/100*values.Tuning.GoMemLimitPercent, 10)
}

func envInt(t *testing.T, name string, def int) int {
	raw := os.Getenv(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, raw)
	}
	return n
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

type scaleBench struct {
	t           *testing.T
	bin         string
	kubeconfig  string
	workers     int
	creators    int
	managerArgs []string
	managerEnv  []string
	timeout     time.Duration
	client      client.Client
	clientset   kubernetes.Interface
}

// runResult is what one run measured.
type runResult struct {
	n            int
	wall         time.Duration // first cohort created to last Job seen
	p50, p99     time.Duration // create-to-Job latency as the watch saw it
	metricP50    float64       // the same from the operator's histogram (operator runs)
	metricP99    float64
	driverCPU    time.Duration // this process: creating cohorts, watching (and the ceiling's Jobs)
	controlPlane time.Duration // kube-apiserver + etcd
	manager      procUsage     // operator runs: CPU during the run, RSS at its end
	reconciles   float64       // operator runs: cohort reconciles per cohort
	requests     string        // API requests per cohort by verb, resource and code
	load         string
}

func (r runResult) line(what string) string {
	s := fmt.Sprintf("%s %5d cohorts: all Jobs in %6.1f s (%4.0f Jobs/s); create-to-Job p50 %.2f s, p99 %.2f s (watch)",
		what, r.n, r.wall.Seconds(), float64(r.n)/r.wall.Seconds(), r.p50.Seconds(), r.p99.Seconds())
	if r.manager.rssKiB > 0 {
		s += fmt.Sprintf(", %.2f s, %.2f s (metric); manager CPU %.1f s, RSS %.0f MiB (peak %.0f MiB), %.1f reconciles/cohort",
			r.metricP50, r.metricP99, r.manager.cpu.Seconds(), mib(r.manager.rssKiB), mib(r.manager.peakKiB), r.reconciles)
	}
	return s + fmt.Sprintf("; driver CPU %.1f s, apiserver+etcd CPU %.1f s; load %s\n  API requests per cohort: %s",
		r.driverCPU.Seconds(), r.controlPlane.Seconds(), r.load, r.requests)
}

// prepare makes two namespaces, each with a Ready model "wd" and policy
// "auto": a manager process reconciles them while the fake cluster runs the
// pretraining; both stop before the measured runs.
func (b *scaleBench) prepare() (string, string) {
	t := b.t
	m := startManagerProcess(t, b.bin, b.kubeconfig, b.managerEnv, b.managerArgs...)
	defer m.stop(t)
	var nss []string
	for range 2 {
		ns := newNamespace(t)
		f := newFakeCluster(t, ns)
		gm := modelObj(ns, "wd")
		policy := policyObj(ns, "auto", v1.StrategyAuto)
		create(t, gm, policy)
		waitModel(t, gm)
		waitPhase(t, policy, func() v1.Phase { return policy.Status.Phase }, v1.PhaseReady)
		f.stop()
		m.alive(t)
		nss = append(nss, ns)
	}
	return nss[0], nss[1]
}

// runCeiling creates n cohorts in ns and, with b.workers workers, the
// ConfigMap and Job of each as the operator would build them.
func (b *scaleBench) runCeiling(ns string, n int) runResult {
	t, ctx := b.t, context.Background()
	gm, policy := &v1.GlobalModel{}, &v1.CorrectionPolicy{}
	if err := b.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "wd"}, gm); err != nil {
		t.Fatal(err)
	}
	if err := b.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, policy); err != nil {
		t.Fatal(err)
	}
	opts := Options{TrainerImage: "lcft-trainer:test", ArtifactURI: "file://" + artifactRoot, Pools: DefaultPoolMap()}
	queue := make(chan *v1.FineTuneCohort, n)
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() {
			for c := range queue {
				if err := b.createRun(ctx, c, gm, policy, opts); err != nil {
					t.Errorf("ceiling: %v", err)
				}
			}
		})
	}
	res := b.measure(ns, n, "", func(c *v1.FineTuneCohort) { queue <- c }, func() { close(queue); wg.Wait() })
	b.clean(ns)
	return res
}

// createRun is what the operator writes for a new cohort, and nothing else.
func (b *scaleBench) createRun(ctx context.Context, c *v1.FineTuneCohort, gm *v1.GlobalModel, policy *v1.CorrectionPolicy, opts Options) error {
	spec, err := finetuneSpec(c, gm, policy, opts)
	if err != nil {
		return err
	}
	tmpl, err := mergePodTemplates(opts.TrainerPodTemplate, c.Spec.PodTemplate, "spec.podTemplate")
	if err != nil {
		return err
	}
	objs, err := buildRun(run{
		owner: c, ownerKind: "FineTuneCohort", spec: spec, placement: c.Spec.Placement, policy: c.Spec.RunPolicy,
		parallelism: c.Spec.Parallelism, suspend: c.Spec.Suspend, podTemplate: tmpl,
	}, opts)
	if err != nil {
		return err
	}
	for _, o := range []client.Object{objs.configMap, objs.job} {
		if err := controllerutil.SetControllerReference(c, o, testScheme); err != nil {
			return err
		}
		if err := b.client.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// runOperator starts a manager process and times it turning n new cohorts
// in ns into Jobs.
func (b *scaleBench) runOperator(ns string, n int) runResult {
	t, ctx := b.t, context.Background()
	m := startManagerProcess(t, b.bin, b.kubeconfig, b.managerEnv, b.managerArgs...)
	// Started: its caches are synced once it has reconciled the policies
	// that exist (nothing changes them, so the reconcile finds them done).
	eventually(t, 2*time.Minute, "the manager to reconcile the existing policies", func() (bool, error) {
		m.alive(t)
		s, err := scrape(ctx, m.metrics)
		if err != nil {
			return false, err
		}
		done := metricValue(s, "controller_runtime_reconcile_total", map[string]string{"controller": "correctionpolicy", "result": "success"})
		return done >= 1, fmt.Errorf("%g policy reconciles", done)
	})
	before, err := readProc(m.pid())
	if err != nil {
		t.Fatal(err)
	}
	res := b.measure(ns, n, b.pprofURL(), nil, func() {})
	m.alive(t)
	after, err := readProc(m.pid())
	if err != nil {
		t.Fatal(err)
	}
	b.heapProfile(ctx, ns, b.pprofURL())
	res.manager = procUsage{cpu: after.cpu - before.cpu, rssKiB: after.rssKiB, peakKiB: after.peakKiB}
	// The operator observes the latency right after its create returned,
	// which may be after the watch saw the Job.
	var s []sample
	eventually(t, time.Minute, fmt.Sprintf("the operator's histogram to count %d Jobs", n), func() (bool, error) {
		if s, err = scrape(ctx, m.metrics); err != nil {
			return false, err
		}
		_, count := histogramQuantile(s, "lcft_cohort_job_creation_latency_seconds", 0.5)
		if int(count) > n {
			t.Fatalf("the operator's histogram counts %g Jobs created, want %d (one per cohort)", count, n)
		}
		return int(count) == n, fmt.Errorf("%g", count)
	})
	res.metricP50, _ = histogramQuantile(s, "lcft_cohort_job_creation_latency_seconds", 0.5)
	res.metricP99, _ = histogramQuantile(s, "lcft_cohort_job_creation_latency_seconds", 0.99)
	res.reconciles = metricValue(s, "controller_runtime_reconcile_total", map[string]string{"controller": "finetunecohort", "result": "success"}) / float64(n)
	if errs := metricValue(s, "controller_runtime_reconcile_errors_total", map[string]string{"controller": "finetunecohort"}); errs > 0 {
		t.Logf("operator: %g cohort reconciles returned an error (requeued)", errs)
	}
	m.stop(t)
	b.clean(ns)
	return res
}

// measure creates n cohorts in ns with b.creators clients, passing each to
// created, and times until a Job of every cohort exists; done runs after the
// last cohort was created.
func (b *scaleBench) measure(ns string, n int, pprofURL string, created func(*v1.FineTuneCohort), done func()) runResult {
	t, ctx := b.t, context.Background()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := watchCohortJobs(t, ctx, b.clientset, ns, n)
	cpu0, cp0 := selfCPU(), mustControlPlaneCPU(t)
	req0, err := apiserverRequests(ctx, b.clientset.Discovery().RESTClient())
	if err != nil {
		t.Fatal(err)
	}
	createdAt := make([]time.Time, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	stopProfile := b.profile(ctx, ns, pprofURL)
	defer stopProfile()
	start := time.Now()
	var wg sync.WaitGroup
	for range b.creators {
		wg.Go(func() {
			for i := range next {
				c := cohortObj(ns, "c-"+strconv.Itoa(i), "wd", withPolicy("auto"), withShards(2))
				if err := b.client.Create(ctx, c); err != nil {
					t.Errorf("creating cohort %s: %v", c.Name, err)
					continue
				}
				createdAt[i] = time.Now()
				if created != nil {
					created(c)
				}
			}
		})
	}
	wg.Wait()
	done()
	if t.Failed() {
		t.FailNow()
	}
	seen := w.wait(t, b.timeout)
	stopProfile()
	res := runResult{n: n, driverCPU: selfCPU() - cpu0, controlPlane: mustControlPlaneCPU(t) - cp0, load: loadAverage()}
	req1, err := apiserverRequests(ctx, b.clientset.Discovery().RESTClient())
	if err != nil {
		t.Fatal(err)
	}
	res.requests = perCohort(req0, req1, n)
	lat := make([]time.Duration, 0, n)
	var last time.Time
	for i := range n {
		s := seen["c-"+strconv.Itoa(i)]
		if s.After(last) {
			last = s
		}
		lat = append(lat, max(0, s.Sub(createdAt[i])))
	}
	slices.Sort(lat)
	res.wall = last.Sub(start)
	res.p50, res.p99 = lat[(n-1)/2], lat[(n-1)*99/100]
	return res
}

func mustControlPlaneCPU(t *testing.T) time.Duration {
	d, err := controlPlaneCPU()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// clean deletes the cohorts, Jobs and ConfigMaps of a run (envtest has no
// garbage collector), so the next run starts with the same API server load.
func (b *scaleBench) clean(ns string) {
	ctx := context.Background()
	for _, o := range []client.Object{&v1.FineTuneCohort{}, &batchv1.Job{}, &corev1.ConfigMap{}} {
		if err := b.client.DeleteAllOf(ctx, o, client.InNamespace(ns)); err != nil {
			b.t.Fatalf("deleting the %T objects of namespace %s: %v", o, ns, err)
		}
	}
}

// cohortJobs records when a Job of each cohort was first seen.
type cohortJobs struct {
	mu   sync.Mutex
	seen map[string]time.Time
	want int
	all  chan struct{}
	err  error
}

// watchCohortJobs watches the Jobs of ns until a Job of want cohorts exists.
func watchCohortJobs(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string, want int) *cohortJobs {
	t.Helper()
	w := &cohortJobs{seen: map[string]time.Time{}, want: want, all: make(chan struct{})}
	jobs := cs.BatchV1().Jobs(ns)
	list, err := jobs.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing Jobs: %v", err)
	}
	rv := list.ResourceVersion
	go func() {
		for ctx.Err() == nil {
			wi, err := jobs.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				if ctx.Err() == nil {
					w.fail(fmt.Errorf("watching Jobs: %w", err))
				}
				return
			}
			for ev := range wi.ResultChan() {
				if ev.Type == watch.Error {
					// Too old a resourceVersion: list again; what the
					// list finds is seen now.
					list, err := jobs.List(ctx, metav1.ListOptions{})
					if err != nil {
						w.fail(fmt.Errorf("listing Jobs: %w", err))
						return
					}
					for i := range list.Items {
						w.add(&list.Items[i])
					}
					rv = list.ResourceVersion
					break
				}
				job, ok := ev.Object.(*batchv1.Job)
				if !ok {
					continue
				}
				rv = job.ResourceVersion
				if ev.Type == watch.Added || ev.Type == watch.Modified {
					w.add(job)
				}
			}
			wi.Stop()
		}
	}()
	return w
}

func (w *cohortJobs) add(job *batchv1.Job) {
	if job.Labels[OwnerKindLabel] != "FineTuneCohort" {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	owner := job.Labels[OwnerNameLabel]
	if _, ok := w.seen[owner]; ok {
		return
	}
	w.seen[owner] = now
	if len(w.seen) == w.want {
		close(w.all)
	}
}

func (w *cohortJobs) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
	if len(w.seen) < w.want {
		close(w.all)
	}
}

// wait returns when each cohort first had a Job.
func (w *cohortJobs) wait(t *testing.T, timeout time.Duration) map[string]time.Time {
	t.Helper()
	select {
	case <-w.all:
	case <-time.After(timeout):
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || len(w.seen) < w.want {
		t.Fatalf("Jobs of %d of %d cohorts after %s (error: %v)", len(w.seen), w.want, timeout, w.err)
	}
	return w.seen
}

// profile writes CPU profiles of the API server and, with pprofURL (the
// manager's --pprof-bind-address), of the manager during a run into
// $LCFT_BENCH_PROFILE_DIR/<namespace>-{apiserver,manager}.pprof, when that
// is set; the returned func waits for them.
func (b *scaleBench) profile(ctx context.Context, ns, pprofURL string) func() {
	dir := os.Getenv("LCFT_BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	seconds := strconv.Itoa(envInt(b.t, "LCFT_BENCH_PROFILE_SECONDS", 10))
	var wg sync.WaitGroup
	save := func(name string, raw []byte, err error) {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, ns+"-"+name+".pprof"), raw, 0o644)
		}
		if err != nil {
			b.t.Logf("profiling the %s: %v", name, err)
		}
	}
	wg.Go(func() {
		raw, err := b.clientset.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", seconds).Timeout(10 * time.Minute).DoRaw(ctx)
		save("apiserver", raw, err)
	})
	if pprofURL != "" {
		wg.Go(func() {
			raw, err := httpGet(ctx, pprofURL+"/debug/pprof/profile?seconds="+seconds)
			save("manager", raw, err)
		})
	}
	var once sync.Once
	return func() { once.Do(wg.Wait) }
}

// heapProfile writes the manager's heap profile, when profiling.
func (b *scaleBench) heapProfile(ctx context.Context, ns, pprofURL string) {
	dir := os.Getenv("LCFT_BENCH_PROFILE_DIR")
	if dir == "" || pprofURL == "" {
		return
	}
	raw, err := httpGet(ctx, pprofURL+"/debug/pprof/heap")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, ns+"-manager-heap.pprof"), raw, 0o644)
	}
	if err != nil {
		b.t.Logf("the manager's heap profile: %v", err)
	}
}

// pprofURL is the base URL of the manager's pprof endpoints, if its flags
// enable them.
func (b *scaleBench) pprofURL() string {
	for _, a := range b.managerArgs {
		if addr, ok := strings.CutPrefix(a, "--pprof-bind-address="); ok && addr != "" && addr != "0" {
			return "http://" + addr
		}
	}
	return ""
}

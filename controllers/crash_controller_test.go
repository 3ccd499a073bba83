package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

var errKilled = errors.New("the manager was killed here")

// Where a crashing client kills the manager's reconcile.
const (
	killAfterConfigMap = "after the ConfigMap" // the Job's create never reaches the API server
	killAfterJob       = "after the Job"       // the Job is made, the manager dies before it hears back
	killBeforeStatus   = "before the status write"
	rejectJobApply     = "the Job's write rejected" // and nothing else
)

// crashingClient is the manager's client until the kill point; from there
// on every call fails, as if the process had died.
type crashingClient struct {
	client.Client
	point string
	dead  bool
}

func (c *crashingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	_, isJob := obj.(*batchv1ac.JobApplyConfiguration)
	return c.write(isJob, func() error { return c.Client.Apply(ctx, obj, opts...) })
}

func (c *crashingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	_, isJob := obj.(*batchv1.Job)
	return c.write(isJob, func() error { return c.Client.Create(ctx, obj, opts...) })
}

// write makes a write (the create or apply of a Job, when isJob) or dies
// at the kill point.
func (c *crashingClient) write(isJob bool, do func() error) error {
	if c.dead {
		return errKilled
	}
	if isJob {
		switch c.point {
		case rejectJobApply:
			return errKilled
		case killAfterConfigMap:
			c.dead = true
			return errKilled
		case killAfterJob:
			c.dead = true
			if err := do(); err != nil {
				return err
			}
			return errKilled
		}
	}
	return do()
}

func (c *crashingClient) Status() client.SubResourceWriter {
	if c.point == killBeforeStatus || c.dead {
		c.dead = true
		return deadWriter{}
	}
	return c.Client.Status()
}

type deadWriter struct{ client.SubResourceWriter }

func (deadWriter) Patch(context.Context, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
	return errKilled
}

func (deadWriter) Update(context.Context, client.Object, ...client.SubResourceUpdateOption) error {
	return errKilled
}

// The manager killed in the middle of a cohort's first reconcile leaves
// part of the run behind; the next manager finishes it with exactly one
// Job and the status a run without a crash has.
func TestManagerKilledMidReconcile(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns, cluster, stop := modelReady(t, nil)
	stop()

	for i, point := range []string{killAfterConfigMap, killAfterJob, killBeforeStatus} {
		t.Run(point, func(t *testing.T) {
			name := fmt.Sprintf("killed-%d", i)
			c := cohortObj(ns, name, "wd", withShards(2))
			create(t, c)
			cluster.hold(name + "-")
			crash := &crashingClient{Client: k8sClient, point: point}
			r := &FineTuneCohortReconciler{Client: crash, APIReader: k8sClient,
				Options: Options{TrainerImage: "lcft-trainer:test", ArtifactURI: "file://" + artifactRoot, Pools: DefaultPoolMap()}}
			if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}); !errors.Is(err, errKilled) {
				t.Fatalf("the reconcile did not die %s: %v", point, err)
			}
			c = getCohort(t, ns, name)
			var cms corev1.ConfigMapList
			if err := k8sClient.List(ctx, &cms, client.InNamespace(ns), client.MatchingLabels{OwnerNameLabel: name}); err != nil || len(cms.Items) != 1 {
				t.Fatalf("want the run's ConfigMap after the kill %s: %v, %d ConfigMaps", point, err, len(cms.Items))
			}
			wantJobs := 1
			if point == killAfterConfigMap {
				wantJobs = 0
			}
			if jobs := jobsOf(t, ns, name); len(jobs) != wantJobs || c.Status.ObservedGeneration != 0 || c.Status.Phase != "" {
				t.Fatalf("after the kill: %d Jobs (want %d), status %+v", len(jobs), wantJobs, c.Status)
			}

			startManager(t)
			cluster.release(name + "-")
			waitCohort(t, c, v1.PhaseSucceeded)
			if jobs := jobsOf(t, ns, name); len(jobs) != 1 || jobs[0].Name != c.Status.JobName {
				t.Fatalf("want exactly the one Job %s, got %d", c.Status.JobName, len(jobs))
			}
			total := trainerTotals(t, c)
			if c.Status.Users != total.Users || c.Status.LCFTAUC != value(total.LCFT) || c.Status.Restarts != 0 || c.Status.ObservedGeneration != c.Generation {
				t.Errorf("status after the restart: users %d (trainer %d), LCFT %s (trainer %s), restarts %d, observed %d of %d",
					c.Status.Users, total.Users, c.Status.LCFTAUC, value(total.LCFT), c.Status.Restarts, c.Status.ObservedGeneration, c.Generation)
			}
		})
	}
}

// A spec whose Job could not be applied is not observed: the status the
// reconcile writes keeps the old observedGeneration.
func TestObservedGenerationWaitsForTheApply(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns, _, stop := modelReady(t, nil)
	stop()
	c := cohortObj(ns, "unapplied", "wd")
	create(t, c)
	r := &FineTuneCohortReconciler{Client: &crashingClient{Client: k8sClient, point: rejectJobApply}, APIReader: k8sClient,
		Options: Options{TrainerImage: "lcft-trainer:test", ArtifactURI: "file://" + artifactRoot, Pools: DefaultPoolMap()}}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}); !errors.Is(err, errKilled) {
		t.Fatalf("the reconcile should fail with the apply: %v", err)
	}
	c = getCohort(t, ns, "unapplied")
	if c.Status.Pool != v1.PoolAny || c.Status.ObservedGeneration != 0 {
		t.Fatalf("status pool %q (written?), observedGeneration %d; want the status written and generation %d not observed", c.Status.Pool, c.Status.ObservedGeneration, c.Generation)
	}
}

// aucSeries reads the lcft_cohort_auc series of a cohort from the
// manager's registry, by kind.
func aucSeries(t *testing.T, ns, name string) map[string]float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "lcft_cohort_auc" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] == ns && l["cohort"] == name {
				got[l["kind"]] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

// A cohort's AUC series appear when it succeeds, come back after a manager
// restart (a new process starts with none) and go with the cohort.
func TestCohortAUCSeriesFollowTheCohort(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	stop := startManager(t)

	gm := modelObj(ns, "wd")
	c := cohortObj(ns, "measured", "wd")
	create(t, gm, c)
	waitCohort(t, c, v1.PhaseSucceeded)
	want := map[string]float64{}
	d := &decimals{}
	for kind, v := range map[string]v1.Decimal{"cloud": c.Status.CloudAUC, "local": c.Status.LocalAUC, "lcft": c.Status.LCFTAUC} {
		want[kind] = parse(d, kind, v, 0)
	}
	same := func() (bool, error) {
		got := aucSeries(t, ns, "measured")
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Errorf("series %v, want %v", got, want)
	}
	eventually(t, runTimeout, "the AUC series", same)

	stop()
	cohortAUC.Reset() // what a new manager process starts with
	if got := aucSeries(t, ns, "measured"); len(got) != 0 {
		t.Fatalf("series after the reset: %v", got)
	}
	startManager(t)
	eventually(t, runTimeout, "the AUC series after a restart", same)

	if err := k8sClient.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, runTimeout, "the series to go with the cohort", func() (bool, error) {
		got := aucSeries(t, ns, "measured")
		return len(got) == 0, fmt.Errorf("series %v", got)
	})
}

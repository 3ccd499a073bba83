package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	trainer "github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

const runTimeout = 2 * time.Minute

func getCohort(t *testing.T, ns, name string) *v1.FineTuneCohort {
	t.Helper()
	c := &v1.FineTuneCohort{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
		t.Fatalf("getting cohort %s: %v", name, err)
	}
	return c
}

func waitPhase(t *testing.T, obj client.Object, phase func() v1.Phase, want v1.Phase) {
	t.Helper()
	eventually(t, runTimeout, fmt.Sprintf("%s to be %s", obj.GetName(), want), func() (bool, error) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		got := phase()
		if got == v1.PhaseFailed && want != v1.PhaseFailed {
			t.Fatalf("%s failed: %+v", obj.GetName(), obj)
		}
		if got == v1.PhaseSucceeded && want == v1.PhaseFailed {
			t.Fatalf("%s succeeded; want it to fail: %+v", obj.GetName(), obj)
		}
		return got == want, fmt.Errorf("phase %q", got)
	})
}

func waitCohort(t *testing.T, c *v1.FineTuneCohort, want v1.Phase) {
	t.Helper()
	waitPhase(t, c, func() v1.Phase { return c.Status.Phase }, want)
}

func waitModel(t *testing.T, gm *v1.GlobalModel) {
	t.Helper()
	waitPhase(t, gm, func() v1.Phase { return gm.Status.Phase }, v1.PhaseReady)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8sClient.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

func jobsOf(t *testing.T, ns, owner string) []batchv1.Job {
	t.Helper()
	var jobs batchv1.JobList
	if err := k8sClient.List(context.Background(), &jobs, client.InNamespace(ns), client.MatchingLabels{OwnerNameLabel: owner}); err != nil {
		t.Fatal(err)
	}
	return jobs.Items
}

// trainerTotals runs the trainer directly on the spec the operator wrote for
// a cohort, shard by shard, and adds the summaries up: what the cohort's
// status must report.
func trainerTotals(t *testing.T, c *v1.FineTuneCohort) runspec.FinetuneStats {
	t.Helper()
	var cm corev1.ConfigMap
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: c.Namespace, Name: c.Status.JobName}, &cm); err != nil {
		t.Fatalf("reading the cohort's run spec: %v", err)
	}
	spec, err := runspec.Decode(strings.NewReader(cm.Data[specKey]))
	if err != nil {
		t.Fatal(err)
	}
	var total runspec.FinetuneStats
	for i := 0; i < spec.Shards; i++ {
		s, err := trainer.Run(context.Background(), spec, i, io.Discard)
		if err != nil {
			t.Fatalf("running shard %d: %v", i, err)
		}
		total.Add(s.Finetune)
	}
	return total
}

func TestCohortsRunWithAUCsInStatus(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	create(t, gm, policyObj(ns, "auto", v1.StrategyAuto))
	cohorts := []*v1.FineTuneCohort{
		cohortObj(ns, "ctr-low", "wd", withPolicy("auto"), withRange("0", "0.2"), withShards(2)),
		cohortObj(ns, "ctr-middle", "wd", withPolicy("auto"), withRange("0.2", "0.5")),
		cohortObj(ns, "ctr-high", "wd", withPolicy("auto"), withRange("0.5", "1"), withPool(v1.PoolARM64), withShards(3)),
	}
	for _, c := range cohorts {
		create(t, c)
	}
	waitModel(t, gm)
	if gm.Status.Digest == "" || gm.Status.GlobalCTR == "" || gm.Status.CloudAUC == "" || len(gm.Status.LocalCTRQuantiles) == 0 {
		t.Errorf("model status is incomplete: %+v", gm.Status)
	}
	// The pretraining wrote its dataset partitioned by user; the cohorts on
	// the same dataset read their shards' partitions.
	if d := gm.Status.Dataset; d == nil || !strings.HasPrefix(d.Digest, "sha256:") || !strings.HasSuffix(d.PartitionsURI, "/partitions/manifest.json") {
		t.Errorf("model status.dataset %+v: want a sha256 digest and a partitions manifest", d)
	}
	for _, c := range cohorts {
		waitCohort(t, c, v1.PhaseSucceeded)
		st := c.Status
		t.Logf("%s: users %d (skipped %d), Cloud %s Local %s LCFT %s, lift vs Local %s, improved/unchanged/degraded %d/%d/%d, shards %+v",
			c.Name, st.Users, st.SkippedUsers, st.CloudAUC, st.LocalAUC, st.LCFTAUC, st.LiftVsLocal, st.UsersImproved, st.UsersUnchanged, st.UsersDegraded, st.Shards)

		// The AUCs in status are exactly what the trainer reports for the same spec.
		total := trainerTotals(t, c)
		for name, pair := range map[string][2]any{
			"cloudAUC": {st.CloudAUC, value(total.Cloud)},
			"localAUC": {st.LocalAUC, value(total.Local)},
			"lcftAUC":  {st.LCFTAUC, value(total.LCFT)},
			"users":    {st.Users, total.Users},
			"improved": {st.UsersImproved, total.Improved},
			"samples":  {st.Samples, total.Samples},
		} {
			if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
				t.Errorf("%s: status %s = %v, trainer says %v", c.Name, name, pair[0], pair[1])
			}
		}
		if st.Users == 0 || st.LCFTAUC == "" || st.Labels == nil || st.Labels.Strategy != v1.StrategyAuto {
			t.Errorf("%s: incomplete results: %+v", c.Name, st)
		}
		if !st.Partitioned || gm.Status.Dataset == nil || st.DatasetDigest != gm.Status.Dataset.Digest || st.OutOfVocabulary != nil {
			t.Errorf("%s: partitioned %v, dataset digest %q (model's %+v), out of vocabulary %+v; want the model's partitions, digest and no unknown ids",
				c.Name, st.Partitioned, st.DatasetDigest, gm.Status.Dataset, st.OutOfVocabulary)
		}
		if cond := meta.FindStatusCondition(st.Conditions, v1.ConditionComplete); cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != c.Generation {
			t.Errorf("%s: Complete condition: %+v", c.Name, cond)
		}
		if int(st.ShardsSucceeded) != int(c.Spec.Shards) || len(st.Shards) != int(c.Spec.Shards) {
			t.Errorf("%s: %d shards succeeded, %d placements; want %d", c.Name, st.ShardsSucceeded, len(st.Shards), c.Spec.Shards)
		}
	}

	// The arm64 cohort's pods carry the arm64 selector (and ran on the arm64 node).
	high := cohorts[2]
	var pods corev1.PodList
	if err := k8sClient.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: high.Status.JobName}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("want 3 pods for the arm64 cohort, got %d", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeSelector[ArchLabel] != "arm64" {
			t.Errorf("pod %s node selector %v; want %s=arm64", p.Name, p.Spec.NodeSelector, ArchLabel)
		}
	}
	for _, s := range high.Status.Shards {
		if s.Node != "node-arm64" {
			t.Errorf("shard %d ran on %q; want node-arm64", s.Index, s.Node)
		}
	}
	checkPrinterColumns(t, ns)
}

func value(w runspec.WeightedAUC) v1.Decimal {
	v, ok := w.Value()
	if !ok {
		return ""
	}
	return formatDecimal(v)
}

// checkPrinterColumns reads the cohorts in the API's table form (what
// `kubectl get ftc` prints) and checks that the columns are filled.
func checkPrinterColumns(t *testing.T, ns string) {
	t.Helper()
	table := cohortTable(t, ns)
	var header []string
	for _, c := range table.ColumnDefinitions {
		header = append(header, c.Name)
	}
	want := []string{"Name", "Phase", "Progress", "Mode", "Pool", "Flavor", "Users", "Cloud", "Local", "LCFT", "Lift", "95% CI", "Significant", "Age"}
	if strings.Join(header, ",") != strings.Join(want, ",") {
		t.Fatalf("columns %v; want %v", header, want)
	}
	t.Logf("kubectl get ftc:\n%s", strings.Join(header, "\t"))
	for _, row := range table.Rows {
		var cells []string
		for i, cell := range row.Cells {
			s := fmt.Sprint(cell)
			cells = append(cells, s)
			// Progress is known only when the operator saw the Job running
			// (TestProgressMovesDuringRun), Flavor only for a cohort Kueue
			// admitted (TestKueueAdmitsEveryKindOfJob).
			if (s == "" || s == "<nil>") && header[i] != "Progress" && header[i] != "Flavor" {
				t.Errorf("row %v: column %s is empty", row.Cells[0], header[i])
			}
		}
		t.Logf("%s", strings.Join(cells, "\t"))
	}
}

// cohortTable reads the namespace's cohorts as `kubectl get ftc` does: in
// the API server's table form, with the CRD's printer columns.
func cohortTable(t *testing.T, ns string) metav1.Table {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.GroupVersion = &v1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rc.Get().Namespace(ns).Resource("finetunecohorts").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading the table: %v", err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	return table
}

func TestCohortWaitsForItsModel(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	c := cohortObj(ns, "early", "later-model")
	create(t, c)
	waitCohort(t, c, v1.PhaseWaiting)
	cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionWaiting)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != "GlobalModelNotFound" {
		t.Fatalf("Waiting condition: %+v", cond)
	}
	if jobs := jobsOf(t, ns, "early"); len(jobs) != 0 {
		t.Fatalf("a waiting cohort has %d Jobs", len(jobs))
	}
	create(t, modelObj(ns, "later-model"))
	waitCohort(t, c, v1.PhaseSucceeded)
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionWaiting); cond.Status != metav1.ConditionFalse {
		t.Errorf("Waiting is still %s after the run", cond.Status)
	}
}

func TestUnreadableDatasetFailsWithoutRetry(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	c := cohortObj(ns, "broken", "wd", withDataset(missingDataset()))
	create(t, c)
	waitCohort(t, c, v1.PhaseFailed)
	cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionFailed)
	if cond == nil || cond.Reason != "TrainerFailed" || !strings.Contains(cond.Message, "/nonexistent/lcft/samples.csv") {
		t.Fatalf("Failed condition should carry the trainer's message naming the file: %+v", cond)
	}
	t.Logf("Failed: %s: %s", cond.Reason, cond.Message)
	var pods corev1.PodList
	if err := k8sClient.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: c.Status.JobName}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("bad input must not be retried: %d pods ran", len(pods.Items))
	}
	job := jobsOf(t, ns, "broken")[0]
	if job.Spec.PodFailurePolicy == nil || job.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values[0] != runspec.ExitBadInput {
		t.Fatalf("the Job lacks the FailJob rule for exit code %d: %+v", runspec.ExitBadInput, job.Spec.PodFailurePolicy)
	}
}

func TestManagerRestartMakesNoSecondJob(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	cluster := newFakeCluster(t, ns)
	stop := startManager(t)

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	cluster.hold("restart-")
	c := cohortObj(ns, "restart", "wd", withShards(2))
	create(t, c)
	eventually(t, runTimeout, "the cohort's Job", func() (bool, error) { return len(jobsOf(t, ns, "restart")) == 1, nil })
	waitCohort(t, c, v1.PhaseRunning)

	stopLog := managerLog.capture()
	stop() // the manager dies mid-flight
	startManager(t)
	// The new manager has seen the running cohort (and its Job) before the Job may finish.
	waitReconciled(t, managerLog.String, "finetunecohort", client.ObjectKeyFromObject(c))
	stopLog()
	cluster.release("restart-")
	waitCohort(t, c, v1.PhaseSucceeded)
	if jobs := jobsOf(t, ns, "restart"); len(jobs) != 1 {
		t.Fatalf("want exactly one Job for the cohort after a restart, got %d", len(jobs))
	}
}

func TestHardSearchPolicyFeedsCohort(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := holdoutModel(ns, "wd", "0.25")
	search := &v1.CorrectionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "searched"},
		Spec: v1.CorrectionPolicySpec{
			Strategy: v1.StrategyHard,
			Search: &v1.LabelSearch{
				GlobalModelRef: v1.ObjectReference{Name: "wd"},
				Dataset:        testData(),
				Boundaries:     []v1.Decimal{"0.2", "0.5"},
				FineTuning:     v1.FineTuningSpec{Optimizer: v1.OptimizerSGD, LearningRate: "0.05", LearningRateDecay: "1", Epochs: 1, BatchSize: 16, Seed: 1},
				MinSamples:     5,
				Seeds:          []int64{1, 2},
			},
		},
	}
	c := cohortObj(ns, "uses-search", "wd", withPolicy("searched"))
	create(t, search, c, gm)
	waitPhase(t, search, func() v1.Phase { return search.Status.Phase }, v1.PhaseReady)
	if len(search.Status.Groups) != 3 {
		t.Fatalf("want 3 searched groups, got %+v", search.Status.Groups)
	}
	if search.Status.HoldoutFraction != "0.25" || fmt.Sprint(search.Status.Seeds) != "[1 2]" {
		t.Errorf("search status holdout %q, seeds %v; want the model's 0.25 and seeds [1 2]", search.Status.HoldoutFraction, search.Status.Seeds)
	}
	for _, g := range search.Status.Groups {
		t.Logf("group [%s, %s): %s (%s, %s), %s: %s; lift vs Auto %+v, vs Local %+v, %d cells",
			g.CTRRange.Min, g.CTRRange.Max, g.Strategy, g.PositiveLabel, g.NegativeLabel, g.Reason, g.Message, g.LiftVsAuto, g.LiftVsLocal, len(g.Cells))
		hard := g.Strategy == v1.GroupHard && g.PositiveLabel != "" && g.Reason == runspec.ReasonBeatsAuto
		auto := g.Strategy == v1.GroupAuto && g.PositiveLabel == "" && g.Reason != runspec.ReasonBeatsAuto
		if !hard && !auto || g.Reason == "" || g.LiftVsLocal == nil || len(g.Cells) == 0 {
			t.Errorf("group without a consistent result: %+v", g)
		}
	}
	waitCohort(t, c, v1.PhaseSucceeded)
	if c.Status.Labels == nil || c.Status.Labels.Strategy != v1.StrategyHard {
		t.Fatalf("cohort labels: %+v", c.Status.Labels)
	}
	// The cohort's run spec carries the searched table.
	var cm corev1.ConfigMap
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: c.Status.JobName}, &cm); err != nil {
		t.Fatal(err)
	}
	spec, err := runspec.Decode(strings.NewReader(cm.Data[specKey]))
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Correction.Groups) != 3 {
		t.Fatalf("run spec table: %+v", spec.Correction)
	}
	for i, g := range spec.Correction.Groups {
		if g.Auto != (search.Status.Groups[i].Strategy == v1.GroupAuto) {
			t.Errorf("run spec group %d %+v; the policy's group is %s", i, g, search.Status.Groups[i].Strategy)
		}
	}
}

func TestDeletingAModelInUseWaitsForItsCohorts(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	c := cohortObj(ns, "user", "wd")
	create(t, gm, c)
	waitCohort(t, c, v1.PhaseSucceeded)
	stopLog := managerLog.capture()
	if err := k8sClient.Delete(ctx, gm); err != nil {
		t.Fatal(err)
	}
	// The manager has handled the deletion and kept the model for its cohort.
	waitReconciled(t, managerLog.String, "globalmodel", client.ObjectKeyFromObject(gm))
	stopLog()
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(gm), gm); err != nil {
		t.Fatalf("the model in use was deleted: %v", err)
	}
	if gm.DeletionTimestamp.IsZero() {
		t.Fatal("the model is not being deleted")
	}
	if err := k8sClient.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, runTimeout, "the model to go once its cohort is gone", func() (bool, error) {
		err := k8sClient.Get(ctx, client.ObjectKeyFromObject(gm), &v1.GlobalModel{})
		return apierrors.IsNotFound(err), err
	})
}

func TestSpecChangeReplacesTheRun(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	cluster := newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	cluster.hold("change-")
	c := cohortObj(ns, "change", "wd", withShards(1))
	c.Spec.Suspend = true
	create(t, c)
	waitCohort(t, c, v1.PhaseSuspended)
	first := jobsOf(t, ns, "change")
	if len(first) != 1 || !*first[0].Spec.Suspend {
		t.Fatalf("want one suspended Job, got %+v", first)
	}

	// Resuming keeps the same Job.
	c.Spec.Suspend = false
	if err := k8sClient.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitCohort(t, c, v1.PhaseRunning)
	if jobs := jobsOf(t, ns, "change"); len(jobs) != 1 || jobs[0].Name != first[0].Name || *jobs[0].Spec.Suspend {
		var got []string
		for _, j := range jobs {
			got = append(got, fmt.Sprintf("%s suspend=%v", j.Name, *j.Spec.Suspend))
		}
		t.Fatalf("resuming should unsuspend the same Job %s, got %v", first[0].Name, got)
	}

	// A new learning rate is a new run: the old Job goes, a new one comes.
	c.Spec.FineTuning.LearningRate = "0.02"
	if err := k8sClient.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, runTimeout, "the old Job to be replaced", func() (bool, error) {
		var names []string
		for _, j := range jobsOf(t, ns, "change") {
			if j.DeletionTimestamp.IsZero() {
				names = append(names, j.Name)
			}
		}
		return len(names) == 1 && names[0] != first[0].Name, fmt.Errorf("jobs %v", names)
	})
	cluster.release("change-")
	waitCohort(t, c, v1.PhaseSucceeded)
	if c.Status.ObservedGeneration != c.Generation || c.Status.JobName == first[0].Name {
		t.Errorf("status describes generation %d (object %d), Job %s", c.Status.ObservedGeneration, c.Generation, c.Status.JobName)
	}
}

func TestShardWithoutSummaryFailsTheCohort(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	cluster := newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	cluster.silence("mute-")
	c := cohortObj(ns, "mute", "wd", withPool(v1.PoolARM64))
	create(t, c)
	waitCohort(t, c, v1.PhaseFailed)
	cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionFailed)
	if cond == nil || cond.Reason != "MissingSummary" || !strings.Contains(cond.Message, "without a valid summary") {
		t.Fatalf("Failed condition: %+v", cond)
	}
	if c.Status.LCFTAUC != "" || c.Status.Users != 0 {
		t.Errorf("a cohort without summaries reports results: %+v", c.Status)
	}
	t.Logf("Failed: %s: %s", cond.Reason, cond.Message)
}

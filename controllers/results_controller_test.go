package controllers

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	trainer "github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// readShardReport reads a finished cohort's shard report.
func readShardReport(t *testing.T, c *v1.FineTuneCohort, shard int) *trainer.Report {
	t.Helper()
	b, err := storage.ReadAll(context.Background(), storage.Join(c.Status.ReportURI, trainer.ReportFile(shard)))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := trainer.DecodeReport(b)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func completeMessage(c *v1.FineTuneCohort) string {
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionComplete); cond != nil {
		return cond.Message
	}
	return ""
}

// withFineTuning sets the cohort's learning rate and epochs.
func withFineTuning(lr v1.Decimal, epochs int32) cohortOption {
	return func(c *v1.FineTuneCohort) { c.Spec.FineTuning.LearningRate, c.Spec.FineTuning.Epochs = lr, epochs }
}

// A user whose fine-tuning diverges (Hard labels (1, -100), whose
// equivalent CTR is below 0, at learning rate 1) does not fail its cohort:
// the cohort Succeeds with status.divergedUsers counting it, and its LCFT
// AUC is its Cloud AUC.
func TestDivergingUserLeavesTheCohortSucceeded(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	runaway := &v1.CorrectionPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runaway"},
		Spec: v1.CorrectionPolicySpec{Strategy: v1.StrategyHard, Groups: []v1.LabelGroup{
			{CTRRange: v1.CTRRange{Min: "0", Max: "1"}, PositiveLabel: "1", NegativeLabel: "-100"},
		}},
	}
	// Every user gets running-away labels: many diverge.
	probe := cohortObj(ns, "probe", "wd", withPolicy("runaway"), withFineTuning("1", 3))
	create(t, gm, runaway, probe)
	waitCohort(t, probe, v1.PhaseSucceeded)
	d := probe.Status.DivergedUsers
	if d == nil || d.Local != 0 || d.LCFT == 0 || d.LCFT >= probe.Status.Users {
		t.Fatalf("probe cohort: divergedUsers %+v of %d users; want some LCFT users, no Local one", d, probe.Status.Users)
	}
	if total := trainerTotals(t, probe); total.DivergedUsers.LCFT != d.LCFT {
		t.Errorf("status divergedUsers.lcft %d, the trainer reports %d", d.LCFT, total.DivergedUsers.LCFT)
	}
	t.Logf("probe: %d of %d users diverged; %s", d.LCFT, probe.Status.Users, completeMessage(probe))

	// A cohort whose CTR range holds exactly one of the diverging users.
	rep := readShardReport(t, probe, 0)
	count := map[float64]int{}
	for _, u := range rep.Users {
		count[u.LocalCTR]++
	}
	var victim *trainer.UserRow
	for i, u := range rep.Users {
		if u.LCFTDiverged != "" && count[u.LocalCTR] == 1 {
			victim = &rep.Users[i]
			break
		}
	}
	if victim == nil {
		t.Fatal("no diverging user with a local CTR of its own")
	}
	lo, hi := 0.0, 1.0 // the midpoints to the neighbouring CTRs
	for r := range count {
		if r < victim.LocalCTR {
			lo = math.Max(lo, (r+victim.LocalCTR)/2)
		}
		if r > victim.LocalCTR {
			hi = math.Min(hi, (r+victim.LocalCTR)/2)
		}
	}
	dec := func(f float64) v1.Decimal { return v1.Decimal(strconv.FormatFloat(f, 'f', 9, 64)) }
	one := cohortObj(ns, "one-diverges", "wd", withPolicy("runaway"), withFineTuning("1", 3), withRange(dec(lo), dec(hi)))
	create(t, one)
	waitCohort(t, one, v1.PhaseSucceeded)
	st := one.Status
	if st.Users != 1 || st.DivergedUsers == nil || *st.DivergedUsers != (v1.DivergedUsers{LCFT: 1}) {
		t.Fatalf("cohort of user %s: users %d, divergedUsers %+v; want 1 and {LCFT: 1}", victim.User, st.Users, st.DivergedUsers)
	}
	if victim.Cloud.Defined() && (st.LCFTAUC != st.CloudAUC || st.LiftVsCloud != formatSigned(0)) {
		t.Errorf("the diverged user keeps the Cloud model: Cloud %s, LCFT %s, lift %s", st.CloudAUC, st.LCFTAUC, st.LiftVsCloud)
	}
	if msg := completeMessage(one); !strings.Contains(msg, "diverged for 0 users in Local and 1 in LCFT") {
		t.Errorf("condition message %q does not mention the diverged user", msg)
	}
	if got := readShardReport(t, one, 0).Diverged; len(got) != 1 || got[0].User != victim.User {
		t.Errorf("report lists %+v; want user %s", got, victim.User)
	}
}

// A Pooled cohort names its fine-tuned group model in status.model; a
// GlobalModel imports it (the verify Job checks its digest), and a cohort
// of the next round fine-tunes from it.
func TestPooledCohortModelIsImportable(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	pooled := cohortObj(ns, "pooled", "wd", withRange("0", "0.3"), func(c *v1.FineTuneCohort) { c.Spec.Mode = v1.ModePooled })
	perUser := cohortObj(ns, "per-user", "wd", withRange("0", "0.3"))
	create(t, gm, pooled, perUser)
	waitModel(t, gm)
	waitCohort(t, pooled, v1.PhaseSucceeded)
	waitCohort(t, perUser, v1.PhaseSucceeded)
	m := pooled.Status.Model
	if m == nil || !strings.HasPrefix(m.URI, "file://"+artifactRoot) || !strings.HasSuffix(m.URI, "/"+trainer.GroupModelFile) ||
		!strings.HasPrefix(m.Digest, "sha256:") || m.Digest == gm.Status.Digest || m.GlobalCTR != gm.Status.GlobalCTR || m.RolledBack {
		t.Fatalf("pooled cohort status.model %+v (global model %s, CTR %s)", m, gm.Status.Digest, gm.Status.GlobalCTR)
	}
	if !strings.HasPrefix(m.URI, pooled.Status.ReportURI+"/") {
		t.Errorf("the model %s is not under the run's output %s", m.URI, pooled.Status.ReportURI)
	}
	if perUser.Status.Model != nil {
		t.Errorf("a PerUser cohort names a model: %+v", perUser.Status.Model)
	}
	if d := pooled.Status.DivergedUsers; d == nil || *d != (v1.DivergedUsers{}) {
		t.Errorf("divergedUsers %+v; want zeros", d)
	}

	imported := &v1.GlobalModel{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "group-low"},
		Spec: v1.GlobalModelSpec{
			Architecture:    gm.Spec.Architecture,
			Hyperparameters: gm.Spec.Hyperparameters,
			Import:          &v1.ModelImport{ArtifactURI: m.URI, Digest: m.Digest, GlobalCTR: m.GlobalCTR},
		},
	}
	create(t, imported)
	waitModel(t, imported)
	if imported.Status.Digest != m.Digest || imported.Status.ArtifactURI != m.URI {
		t.Errorf("imported status %+v; want the group model %s (%s)", imported.Status, m.URI, m.Digest)
	}
	next := cohortObj(ns, "round-two", "group-low", withRange("0", "0.3"))
	create(t, next)
	waitCohort(t, next, v1.PhaseSucceeded)
	// Round two's Cloud model is round one's group model: its Cloud AUC is
	// the pooled cohort's LCFT AUC (same users, same test split).
	if next.Status.CloudAUC != pooled.Status.LCFTAUC || next.Status.Users != pooled.Status.Users {
		t.Errorf("round two: Cloud %s over %d users; round one's pooled LCFT %s over %d", next.Status.CloudAUC, next.Status.Users, pooled.Status.LCFTAUC, pooled.Status.Users)
	}
	t.Logf("group model %s: round one Cloud %s LCFT %s; round two Cloud %s LCFT %s",
		m.Digest[:15], pooled.Status.CloudAUC, pooled.Status.LCFTAUC, next.Status.CloudAUC, next.Status.LCFTAUC)
}

// A PerUser cohort with output.userModels Deltas and scope Sparse saves
// every user's LCFT model as a delta, one file per shard; status says how
// many users and bytes, and where.
func TestPerUserCohortSavesUserModels(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	c := cohortObj(ns, "deltas", "wd", withShards(2), func(c *v1.FineTuneCohort) {
		c.Spec.Output = &v1.OutputSpec{UserModels: v1.UserModelsDeltas}
		c.Spec.FineTuning.Scope = v1.ScopeSparse
	})
	create(t, gm, c)
	waitModel(t, gm)
	waitCohort(t, c, v1.PhaseSucceeded)
	um := c.Status.UserModels
	if um == nil || um.Users != c.Status.Users || um.Bytes == 0 || um.BytesPerUser != (um.Bytes+um.Users/2)/um.Users || um.Scope != v1.ScopeSparse || len(um.URIs) != 2 {
		t.Fatalf("status.userModels %+v for %d users", um, c.Status.Users)
	}
	var users int
	for i, uri := range um.URIs {
		if !strings.HasSuffix(uri, "/"+trainer.UserModelsFile(i)) {
			t.Errorf("user models %s of shard %d", uri, i)
		}
		f, err := trainer.ReadUserModels(context.Background(), uri)
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.ModelDigest != gm.Status.Digest || f.Header.Scope != "Sparse" || f.Header.Shard != i {
			t.Errorf("shard %d header %+v", i, f.Header)
		}
		users += len(f.Index.Users)
	}
	if int64(users) != um.Users {
		t.Errorf("the files hold %d users, status says %d", users, um.Users)
	}
	t.Logf("%d user models, %d bytes per user (Sparse)", um.Users, um.BytesPerUser)
}

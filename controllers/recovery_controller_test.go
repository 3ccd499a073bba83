package controllers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// runUntilPodsGone runs a 2-shard cohort whose pods succeed, waits until
// its status recorded both shards' report digests, lets tamper change the
// stored reports, deletes the pods (as the pod garbage collector would)
// and lets the Job complete.
func runUntilPodsGone(t *testing.T, ns string, cluster *fakeCluster, name string, tamper func(reportDir string)) *v1.FineTuneCohort {
	t.Helper()
	ctx := context.Background()
	cluster.holdFinish(name + "-")
	c := cohortObj(ns, name, "wd", withShards(2))
	create(t, c)
	c = waitReportDigests(t, ns, name, 2)
	if tamper != nil {
		tamper(strings.TrimPrefix(c.Status.ReportURI, "file://"))
	}
	for _, p := range podsOf(t, ns, c.Status.JobName) {
		if err := k8sClient.Delete(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, runTimeout, "the pods to go", func() (bool, error) { return len(podsOf(t, ns, c.Status.JobName)) == 0, nil })
	cluster.finish(name + "-")
	return c
}

// Pods gone before the manager read them: the shards' reports in the
// artifact store, checked against the digests recorded while the run went
// on, give the same results the pods would have; a report whose bytes
// changed is not used.
func TestPodsGoneBeforeReadAreRecoveredFromReports(t *testing.T) {
	needEnv(t)
	ns, cluster, _ := modelReady(t, nil)

	c := runUntilPodsGone(t, ns, cluster, "gone", nil)
	waitCohort(t, c, v1.PhaseSucceeded)
	total := trainerTotals(t, c)
	if c.Status.Users != total.Users || c.Status.LCFTAUC != value(total.LCFT) || c.Status.CloudAUC != value(total.Cloud) || c.Status.Samples != total.Samples {
		t.Errorf("recovered status: users %d LCFT %s Cloud %s samples %d; the trainer says %d %s %s %d",
			c.Status.Users, c.Status.LCFTAUC, c.Status.CloudAUC, c.Status.Samples, total.Users, value(total.LCFT), value(total.Cloud), total.Samples)
	}
	if msg := completeMessage(c); !strings.Contains(msg, "shard(s) 0, 1 read from their reports") {
		t.Errorf("Complete message %q does not say the shards were read from their reports", msg)
	}
	t.Logf("Complete: %s", completeMessage(c))

	tampered := runUntilPodsGone(t, ns, cluster, "tampered", func(dir string) {
		file := dir + "/" + runspec.ShardReportFile(1)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		forged := strings.Replace(string(b), `"users":`, `"users": 1000000 , "ignored":`, 1)
		if err := os.WriteFile(file, []byte(forged), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	waitCohort(t, tampered, v1.PhaseFailed)
	cond := meta.FindStatusCondition(tampered.Status.Conditions, v1.ConditionFailed)
	if cond == nil || cond.Reason != "MissingSummary" || !strings.Contains(cond.Message, "shard(s) 1 finished without") || !strings.Contains(cond.Message, "not used") {
		t.Fatalf("Failed condition %+v; want MissingSummary for shard 1 naming the digest mismatch", cond)
	}
	t.Logf("Failed: %s", cond.Message)
}

// waitReportDigests waits until shards shards of cohort ns/name have a
// report digest in status, and returns the cohort.
func waitReportDigests(t *testing.T, ns, name string, shards int) *v1.FineTuneCohort {
	t.Helper()
	var c *v1.FineTuneCohort
	eventually(t, runTimeout, "the shards' report digests in status", func() (bool, error) {
		c = getCohort(t, ns, name)
		n := 0
		for _, s := range c.Status.Shards {
			if strings.HasPrefix(s.ReportDigest, "sha256:") {
				n++
			}
		}
		return n == shards, fmt.Errorf("shards %+v", c.Status.Shards)
	})
	return c
}

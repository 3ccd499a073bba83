package controllers

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// A cohort's results come from its pods' termination messages, and pods can
// be gone before the manager reads them (the pod garbage collector, a node
// deleted, the manager down for a while). Every shard also wrote its full
// report to the artifact store, and its summary carries the report's
// sha256. While the run goes on, the cohort records in status.shards the
// digest each succeeded pod reported; when the Job completes and a shard's
// pod is gone, the shard's report is read from the run's output directory,
// checked against the recorded digest (a report that does not match, or a
// shard whose digest was never recorded, is not used: the run fails
// MissingSummary and says why), and stands in for the summary.
//
// The operator reads reports itself, with its own file system: file://
// stores (a directory the manager shares with the trainer pods). Object
// stores and pvc:// claims need credentials or mounts the manager does not
// have: a collect Job with the trainer pods' template reads them
// (report_collect.go).

// recordedReports is what a cohort's status recorded of its run: the run's
// output directory and, per shard, the report digest its pod said.
type recordedReports struct {
	dir    string
	shards []finetunev1alpha1.ShardPlacement
	// owner is the cohort, which owns a collect Job (report_collect.go).
	owner client.Object
}

func (r *recordedReports) digest(shard int) (finetunev1alpha1.ShardPlacement, bool) {
	for _, s := range r.shards {
		if int(s.Index) == shard && s.ReportDigest != "" {
			return s, true
		}
	}
	return finetunev1alpha1.ShardPlacement{}, false
}

// recordShards keeps, for each shard, what was recorded before and what the
// pods say now: a shard keeps its digest after its pod is gone.
func recordShards(recorded []finetunev1alpha1.ShardPlacement, pods []corev1.Pod, shards int) []finetunev1alpha1.ShardPlacement {
	_, now := collectSummaries(pods, shards)
	for _, old := range recorded {
		if i := int(old.Index); i < shards && now[i].ReportDigest == "" && old.ReportDigest != "" {
			now[i] = old
		}
	}
	for _, s := range now {
		if s.ReportDigest != "" {
			return now
		}
	}
	return nil // nothing to record yet
}

// recoverFromReports fills the missing summaries of out from the shards'
// reports, and says why a shard could not be. A store the manager does not
// read itself is read by a collect Job (report_collect.go), which may
// leave out Running or Failed.
func (k runner) recoverFromReports(ctx context.Context, job *batchv1.Job, rec *recordedReports, out *runOutcome) ([]string, error) {
	if !storeReadByManager(rec.dir) {
		return k.collectFromStore(ctx, job, rec, out)
	}
	var notes []string
	for i, s := range out.summaries {
		if s != nil || ctx.Err() != nil {
			continue
		}
		placed, ok := rec.digest(i)
		if !ok {
			notes = append(notes, fmt.Sprintf("shard %d: no report digest was recorded before its pod was gone", i))
			continue
		}
		uri := joinURI(rec.dir, runspec.ShardReportFile(i))
		sum, err := readReportFile(uri, i, placed.ReportDigest)
		if err != nil {
			notes = append(notes, err.Error()) // names the shard
			continue
		}
		out.summaries[i] = sum
		out.shards[i] = placed
		out.recovered = append(out.recovered, strconv.Itoa(i))
	}
	return notes, nil
}

// readReportFile reads the report at uri and checks its digest and shard.
func readReportFile(uri string, shard int, digest string) (*runspec.Summary, error) {
	b, err := readLocalArtifact(uri)
	if err != nil {
		return nil, fmt.Errorf("shard %d: %w", shard, err)
	}
	return runspec.VerifyShardReport(b, uri, shard, digest)
}

// readLocalArtifact reads a file:// URI (its query, for object stores, is
// dropped).
func readLocalArtifact(uri string) ([]byte, error) {
	rest, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		scheme, _, _ := strings.Cut(uri, "://")
		return nil, fmt.Errorf("the operator reads reports only from file:// stores, not %s:// (%s)", scheme, uri)
	}
	path, _, _ := strings.Cut(rest, "?")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the report: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, runspec.MaxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the report %s: %w", uri, err)
	}
	if len(b) > runspec.MaxReportBytes {
		return nil, fmt.Errorf("the report %s is over %d bytes", uri, runspec.MaxReportBytes)
	}
	return b, nil
}

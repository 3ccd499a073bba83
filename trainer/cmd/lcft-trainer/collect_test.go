package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage/s3fake"
)

// shardReport is a report as a fine-tuning shard writes it (the fields the
// summary takes, and one it does not), and its digest.
func shardReport(shard int, users int64) ([]byte, string) {
	b := []byte(fmt.Sprintf(`{"shard":%d,"arch":"arm64","datasetDigest":"sha256:dd","users":[{"id":"u1"}],`+
		`"summary":{"users":%d,"samples":%d,"cloud":{"s":1.5,"w":2},"local":{"s":1.25,"w":2},"lcft":{"s":1.75,"w":2},"seconds":0.5,"divergedUsers":{"local":0,"lcft":0}}}`,
		shard, users, 10*users))
	return b, runspec.ReportDigest(b)
}

// collect runs the collect command and returns its exit code and the
// summary it wrote to the termination log.
func collect(t *testing.T, args ...string) (int, *runspec.Summary, string) {
	t.Helper()
	termLog := filepath.Join(t.TempDir(), "termination-log")
	var stdout, stderr bytes.Buffer
	code := run(append(append([]string{"collect"}, args...), "--termination-log", termLog), &stdout, &stderr)
	msg, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatalf("exit %d, no termination log: %v (stderr %s)", code, err, stderr.String())
	}
	sum, err := runspec.DecodeSummary(string(msg))
	if err != nil {
		t.Fatalf("exit %d, termination log %q is no summary: %v", code, msg, err)
	}
	return code, sum, stderr.String()
}

// The collect command reads shard --shards[index] of a file:// store,
// checks its digest, and writes the summary the shard's pod would have
// written; a changed report is bad input (exit 2) naming the shard and
// both digests.
func TestCollectFileStore(t *testing.T) {
	dir := t.TempDir()
	r3, d3 := shardReport(3, 4)
	r5, d5 := shardReport(5, 7)
	for shard, b := range map[int][]byte{3: r3, 5: r5} {
		if err := os.WriteFile(filepath.Join(dir, runspec.ShardReportFile(shard)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	uri := "file://" + dir
	code, sum, stderr := collect(t, "--report-uri", uri, "--shards", "3,5", "--digests", d3+","+d5, "--index", "1")
	if code != runspec.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if sum.Shard != 5 || sum.Kind != runspec.KindFinetune || sum.ReportDigest != d5 || sum.ReportURI != uri+"/report-shard-5.json" ||
		sum.Arch != "arm64" || sum.DatasetDigest != "sha256:dd" || sum.Finetune == nil || sum.Finetune.Users != 7 || sum.Finetune.Samples != 70 ||
		sum.Finetune.LCFT != (runspec.WeightedAUC{Sum: 1.75, Weight: 2}) {
		t.Fatalf("summary %+v (finetune %+v); want shard 5's report", sum, sum.Finetune)
	}

	// The index comes from $JOB_COMPLETION_INDEX in a Job's pod.
	t.Setenv(runspec.EnvShardIndex, "0")
	if code, sum, stderr := collect(t, "--report-uri", uri, "--shards", "3,5", "--digests", d3+","+d5); code != 0 || sum.Shard != 3 || sum.Finetune.Users != 4 {
		t.Fatalf("index 0: exit %d, summary %+v: %s", code, sum, stderr)
	}

	// Shard 5's report changed after its pod reported its digest.
	forged := bytes.Replace(r5, []byte(`"users":7`), []byte(`"users":700`), 1)
	if err := os.WriteFile(filepath.Join(dir, runspec.ShardReportFile(5)), forged, 0o600); err != nil {
		t.Fatal(err)
	}
	code, sum, _ = collect(t, "--report-uri", uri, "--shards", "3,5", "--digests", d3+","+d5, "--index", "1")
	if code != runspec.ExitBadInput || sum.Shard != 5 || !strings.Contains(sum.Error, "shard 5") ||
		!strings.Contains(sum.Error, runspec.ReportDigest(forged)) || !strings.Contains(sum.Error, d5) || !strings.Contains(sum.Error, "not used") {
		t.Fatalf("changed report: exit %d, summary %+v; want exit 2 naming shard 5 and both digests", code, sum)
	}
	if _, err := collectShard(context.Background(), uri, 5, d5); !errors.Is(err, runspec.ErrReportDigestMismatch) {
		t.Errorf("collectShard error %v; want ErrReportDigestMismatch", err)
	}

	// A report of another shard under this shard's name.
	if err := os.WriteFile(filepath.Join(dir, runspec.ShardReportFile(5)), r3, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, sum, _ := collect(t, "--report-uri", uri, "--shards", "5", "--digests", d3, "--index", "0"); code != runspec.ExitBadInput || !strings.Contains(sum.Error, "is of shard 3") {
		t.Fatalf("another shard's report: exit %d, summary %+v", code, sum)
	}
}

// Against the fake S3 store (the real s3blob driver): the pod's
// credentials read the report; a changed report, a missing one and denied
// access are bad input (exit 2), an unavailable store may pass on retry
// (exit 1).
func TestCollectS3Store(t *testing.T) {
	f, srv := s3fake.New(t, "lcft-artifacts")
	s3fake.Env(t, s3fake.GoodKey)
	r2, d2 := shardReport(2, 9)
	f.Put("lcft-artifacts/runs/ns/cohort/abc123/"+runspec.ShardReportFile(2), r2)
	uri := "s3://lcft-artifacts/runs/ns/cohort/abc123?endpoint=" + srv.URL + "&use_path_style=true&region=us-test-1"

	code, sum, stderr := collect(t, "--report-uri", uri, "--shards", "2", "--digests", d2, "--index", "0")
	if code != runspec.ExitOK || sum.Shard != 2 || sum.Finetune.Users != 9 || sum.ReportDigest != d2 ||
		sum.ReportURI != "s3://lcft-artifacts/runs/ns/cohort/abc123/report-shard-2.json?endpoint="+srv.URL+"&use_path_style=true&region=us-test-1" {
		t.Fatalf("exit %d, summary %+v: %s", code, sum, stderr)
	}
	var gets int
	for _, r := range f.Requests() {
		if r.Method == "GET" && r.AccessKey == s3fake.GoodKey && r.Path == "/lcft-artifacts/runs/ns/cohort/abc123/report-shard-2.json" {
			gets++
		}
	}
	if gets == 0 {
		t.Errorf("no GET of the report with the pod's key: %+v", f.Requests())
	}

	f.Put("lcft-artifacts/runs/ns/cohort/abc123/"+runspec.ShardReportFile(2), bytes.Replace(r2, []byte(`"users":9`), []byte(`"users":90`), 1))
	if code, sum, _ := collect(t, "--report-uri", uri, "--shards", "2", "--digests", d2, "--index", "0"); code != runspec.ExitBadInput || !strings.Contains(sum.Error, "not used") || !strings.Contains(sum.Error, "shard 2") {
		t.Fatalf("changed report: exit %d, summary %+v; want exit 2", code, sum)
	}
	if code, sum, _ := collect(t, "--report-uri", uri, "--shards", "4", "--digests", d2, "--index", "0"); code != runspec.ExitBadInput || !strings.Contains(sum.Error, "NoSuchKey") {
		t.Fatalf("missing report: exit %d, summary %+v; want exit 2", code, sum)
	}
	s3fake.Env(t, "AKIDNOSUCHKEY")
	if code, sum, _ := collect(t, "--report-uri", uri, "--shards", "2", "--digests", d2, "--index", "0"); code != runspec.ExitBadInput || !strings.Contains(sum.Error, "InvalidAccessKeyId") {
		t.Fatalf("unknown key: exit %d, summary %+v; want exit 2", code, sum)
	}
	s3fake.Env(t, s3fake.FlakyKey)
	if code, sum, _ := collect(t, "--report-uri", uri, "--shards", "2", "--digests", d2, "--index", "0"); code != runspec.ExitFailure || !strings.Contains(sum.Error, "ServiceUnavailable") {
		t.Fatalf("unavailable store: exit %d, summary %+v; want exit 1", code, sum)
	}
}

// Flags that cannot name a report are bad input.
func TestCollectRefusesBadFlags(t *testing.T) {
	d := runspec.ReportDigest([]byte("x"))
	for name, args := range map[string][]string{
		"no digests":        {"--report-uri", "file:///r", "--shards", "1"},
		"fewer digests":     {"--report-uri", "file:///r", "--shards", "1,2", "--digests", d},
		"not a digest":      {"--report-uri", "file:///r", "--shards", "1", "--digests", "md5:00"},
		"index past shards": {"--report-uri", "file:///r", "--shards", "1", "--digests", d, "--index", "1"},
		"negative shard":    {"--report-uri", "file:///r", "--shards", "-1", "--digests", d},
	} {
		t.Run(name, func(t *testing.T) {
			if code, sum, _ := collect(t, args...); code != runspec.ExitBadInput || sum.Error == "" {
				t.Fatalf("exit %d, summary %+v; want exit 2 with an error", code, sum)
			}
		})
	}
}

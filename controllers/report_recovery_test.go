package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

func succeededPod(idx, summary string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: idx}},
		Spec:       corev1.PodSpec{NodeName: "n"},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: trainerContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: summary}},
		}}},
	}
}

// A shard keeps the digest its pod said after the pod is gone.
func TestRecordShards(t *testing.T) {
	pod1 := succeededPod("1", `{"kind":"finetune","shard":1,"arch":"arm64","reportDigest":"sha256:b","finetune":{}}`)
	recorded := []v1.ShardPlacement{{Index: 0, Node: "old", Arch: "amd64", ReportDigest: "sha256:a"}, {Index: 1}}
	got := recordShards(recorded, []corev1.Pod{pod1}, 2)
	want := []v1.ShardPlacement{{Index: 0, Node: "old", Arch: "amd64", ReportDigest: "sha256:a"}, {Index: 1, Node: "n", Arch: "arm64", ReportDigest: "sha256:b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recordShards (-want +got):\n%s", diff)
	}
	if got := recordShards(nil, nil, 2); got != nil {
		t.Errorf("nothing to record, got %+v", got)
	}
}

func TestReadReportFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) (string, string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(body))
		return "file://" + filepath.Join(dir, name), "sha256:" + hex.EncodeToString(sum[:])
	}
	good, goodDigest := write("report-shard-1.json", `{"shard":1,"arch":"arm64","summary":{"users":3}}`)
	cases := []struct {
		name, uri, digest string
		shard             int
		wantErr           string
	}{
		{"a report that matches", good, goodDigest, 1, ""},
		{"another digest", good, "sha256:00", 1, "not used"},
		{"another shard", good, goodDigest, 0, "is of shard 1"},
		{"an object store", "s3://bucket/run/report-shard-1.json?region=x", goodDigest, 1, "only from file:// stores, not s3://"},
		{"no file", "file://" + filepath.Join(dir, "none.json"), goodDigest, 1, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := readReportFile(tc.uri, tc.shard, tc.digest)
			if tc.wantErr == "" {
				if err != nil || sum.Finetune == nil || sum.Finetune.Users != 3 || sum.ReportDigest != goodDigest || sum.Arch != "arm64" {
					t.Fatalf("summary %+v, error %v", sum, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v; want one containing %q", err, tc.wantErr)
			}
		})
	}
}

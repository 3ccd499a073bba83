package controllers

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func indexedPod(idx string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: idx}}, Status: corev1.PodStatus{Phase: phase}}
}

// Three shards: 0 answers (30 of 100 users in 10 s), 1 answered before
// and has succeeded since (done: 80 of 80), 2 is still loading. The sum is
// in users: 110 of 180, 61%; the rate is shard 0's 3/s (shard 1 is done);
// the time left is shard 0's 70/3 s, rounded up to 24 s.
func TestMergeProgress(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	prev := &v1.RunProgress{Shards: []v1.ShardProgress{
		{Index: 1, Stage: "fine-tuning", Unit: "users", Done: 50, Total: 80, StageSeconds: 5},
		{Index: 7, Stage: "fine-tuning", Unit: "users", Done: 1, Total: 2}, // not a shard of this Job
	}}
	polled := []polledShard{
		{0, &runspec.Progress{Shard: 0, Stage: "fine-tuning", Unit: runspec.UnitUsers, Done: 30, Total: 100, StageSeconds: 10}},
		{2, &runspec.Progress{Shard: 2, Stage: "loading", StageSeconds: 3}},
	}
	pods := []corev1.Pod{indexedPod("0", corev1.PodRunning), indexedPod("1", corev1.PodSucceeded), indexedPod("2", corev1.PodRunning)}
	got := mergeProgress(prev, polled, pods, 3, now)
	want := &v1.RunProgress{
		Summary: "61% (110/180 users, ETA 24s)", Stage: "fine-tuning", Unit: "users", Done: 110, Total: 180, Percent: 61,
		RatePerSecond: "3.0", ETASeconds: ptr.To[int64](24), ShardsReporting: 3,
		Shards: []v1.ShardProgress{
			{Index: 0, Stage: "fine-tuning", Unit: "users", Done: 30, Total: 100, StageSeconds: 10},
			{Index: 1, Stage: "fine-tuning", Unit: "users", Done: 80, Total: 80, StageSeconds: 5},
			{Index: 2, Stage: "loading", StageSeconds: 3},
		},
		UpdatedAt: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("merged progress (-want +got):\n%s", diff)
	}
	// Polled again with no pod answering: nothing changed but the time,
	// so nothing is written; an answer that moved is a change.
	if again := mergeProgress(got, nil, pods, 3, now.Add(time.Minute)); !sameProgress(got, again) {
		t.Errorf("no answers changed the progress: %+v", again)
	}
	moved := []polledShard{{0, &runspec.Progress{Shard: 0, Stage: "fine-tuning", Unit: runspec.UnitUsers, Done: 31, Total: 100, StageSeconds: 10}}}
	if sameProgress(got, mergeProgress(got, moved, pods, 3, now)) {
		t.Error("a shard that moved is not a change")
	}
	done := endProgress("uid", got, true)
	if done.Done != 180 || done.Percent != 100 || done.ETASeconds != nil || done.RatePerSecond != "" || done.Summary != "done" || done.Stage != "done" || done.Shards[2].Stage != "done" {
		t.Errorf("ended progress %+v", done)
	}
	if stopped := endProgress("uid", got, false); stopped.Summary != "61% (110/180 users) stopped" || stopped.Done != 110 {
		t.Errorf("failed run's progress %+v", stopped)
	}
	// A run seen only while loading (no total yet) that succeeded is done.
	loading := mergeProgress(nil, []polledShard{{0, &runspec.Progress{Shard: 0, Stage: "loading"}}}, pods, 3, now)
	if loading.Summary != "loading" {
		t.Fatalf("loading run's progress %+v", loading)
	}
	if done := endProgress("uid", loading, true); done.Summary != "done" || done.Stage != "done" {
		t.Errorf("a run that succeeded while seen loading: %+v", done)
	}
	if p := mergeProgress(nil, nil, nil, 2, now); p.Summary != "starting" || p.ShardsReporting != 0 {
		t.Errorf("no shard known: %+v", p)
	}
}

func TestProgressInterval(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, DefaultProgressInterval}, {-1, 0}, {time.Second, MinProgressInterval}, {2500 * time.Millisecond, 3 * time.Second}, {time.Minute, time.Minute},
	} {
		if got := (Options{ProgressInterval: c.in}).progressInterval(); got != c.want {
			t.Errorf("interval %s: %s, want %s", c.in, got, c.want)
		}
	}
	if sooner(0, 3) != 3 || sooner(5, 0) != 5 || sooner(5, 3) != 3 || sooner(2, 3) != 2 {
		t.Error("sooner")
	}
}

// trackProgress polls a Job's running pods at most once per interval per
// object, even when the object it is handed has no progress (a stale
// cache), and writes nothing when nothing changed.
func TestTrackProgressPollsOncePerInterval(t *testing.T) {
	srv := &progressServer{doc: runspec.Progress{Kind: runspec.KindFinetune, Stage: "fine-tuning", Unit: runspec.UnitUsers, Done: 10, Total: 100, StageSeconds: 5}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	port, err := strconv.Atoi(hs.URL[strings.LastIndex(hs.URL, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: "ns", UID: "job-uid"}, Spec: batchv1.JobSpec{Completions: ptr.To[int32](1)}}
	pod := func(name string, ref metav1.OwnerReference) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{batchv1.JobNameLabel: "run"},
				Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "0"}, OwnerReferences: []metav1.OwnerReference{ref}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"},
		}
	}
	ref := metav1.OwnerReference{APIVersion: "batch/v1", Kind: "Job", Name: "run", UID: "job-uid", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	forged := ref
	forged.UID = "another-job"
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod("run-0", ref), pod("forged-0", forged)).
		WithIndex(&corev1.Pod{}, controllerUIDIndex, controllerUID).Build()
	k := runner{Client: c, opts: Options{ProgressPort: int32(port), ProgressInterval: 2 * time.Second}}
	owner := types.UID(t.Name())
	defer progressPolls.forget(owner)

	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	var p *v1.RunProgress
	after, err := k.trackProgress(context.Background(), owner, job, &p, now)
	if err != nil || after != 2*time.Second || p == nil || p.Done != 10 || len(srv.polls()) != 1 {
		t.Fatalf("first poll: after %s, err %v, progress %+v, %d polls; want 10 done after one poll (the forged pod not asked)", after, err, p, len(srv.polls()))
	}
	var stale *v1.RunProgress // a reconcile on a cache without the write
	srv.set(20)
	after, err = k.trackProgress(context.Background(), owner, job, &stale, now.Add(500*time.Millisecond))
	if err != nil || after != 1500*time.Millisecond || stale != nil || len(srv.polls()) != 1 {
		t.Fatalf("within the interval: after %s, err %v, progress %+v, %d polls; want no poll and a requeue in 1.5s", after, err, stale, len(srv.polls()))
	}
	after, err = k.trackProgress(context.Background(), owner, job, &p, now.Add(2*time.Second))
	if err != nil || after != 2*time.Second || p.Done != 20 || p.UpdatedAt.Time != now.Add(2*time.Second) || len(srv.polls()) != 2 {
		t.Fatalf("after the interval: after %s, err %v, progress %+v, %d polls; want 20 done", after, err, p, len(srv.polls()))
	}
	last := p
	if _, err = k.trackProgress(context.Background(), owner, job, &p, now.Add(4*time.Second)); err != nil || p != last || len(srv.polls()) != 3 {
		t.Fatalf("unchanged: err %v, progress %+v, %d polls; want the same progress (nothing to write) after a third poll", err, p, len(srv.polls()))
	}
	empty := runner{Client: fake.NewClientBuilder().WithScheme(scheme).WithIndex(&corev1.Pod{}, controllerUIDIndex, controllerUID).Build(), opts: k.opts}
	var none *v1.RunProgress
	if _, err := empty.trackProgress(context.Background(), "no-pods", job, &none, now); err != nil || none != nil {
		t.Fatalf("no pod answered: err %v, progress %+v; want nothing to write", err, none)
	}
	progressPolls.forget("no-pods")
	if off := (runner{Client: c, opts: Options{ProgressPort: int32(port), ProgressInterval: -1}}); true {
		if after, _ := off.trackProgress(context.Background(), "other", job, &p, now.Add(time.Hour)); after != 0 || len(srv.polls()) != 3 {
			t.Fatalf("polling off: after %s, %d polls", after, len(srv.polls()))
		}
	}
}

package controllers

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trainer "github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// fakeCluster plays the Job controller and the kubelet for the Jobs the
// operator creates: for every completion index it runs the real trainer
// (in-process) on the spec in the Job's ConfigMap, creates the pod the Job
// controller would have created with the terminated status a kubelet would
// have written (the shard summary as termination message), and finishes the
// Job as the Job controller would, honouring the podFailurePolicy (exit code
// 2 fails the Job at once) and backoffLimit.
type fakeCluster struct {
	t  *testing.T
	c  client.Client
	ns string

	mu     sync.Mutex
	held   map[string]bool // Job name prefixes not to run yet
	silent map[string]bool // Job name prefixes whose pods succeed without a summary (like kwok's simulated pods)
	flaky  map[string]bool // Job name prefixes whose pods fail once per index (exit 1) before they run
	oom    map[string]bool // Job name prefixes whose pods are OOMKilled (exit 137)
	// unfinished are Job name prefixes whose pods run but whose Job status
	// waits for finish(); pending holds those Jobs' final status.
	unfinished map[string]bool
	pending    map[types.UID]finalStatus
	// stop ends the fake cluster and waits for it (also at the test's end).
	stop func()
	// canned, when set, answers every fine-tuning and search shard at once
	// instead of running the trainer: the controller-scale benchmark
	// measures the operator, not the trainer, and the search and interval
	// tests feed the operator summaries of known per-user rows.
	canned func(spec *runspec.Spec, idx int) (int, string)
}

func newFakeCluster(t *testing.T, ns string, opts ...func(*fakeCluster)) *fakeCluster {
	f := &fakeCluster{t: t, c: k8sClient, ns: ns, held: map[string]bool{}, silent: map[string]bool{}, flaky: map[string]bool{}, oom: map[string]bool{},
		unfinished: map[string]bool{}, pending: map[types.UID]finalStatus{}}
	for _, o := range opts {
		o(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := f.step(ctx); err != nil && ctx.Err() == nil {
				t.Logf("fake cluster: %v", err)
			}
			select { // a cluster's controllers act every 100 ms until the test ends
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	f.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(f.stop)
	return f
}

// hold keeps Jobs whose names start with prefix from running until release.
func (f *fakeCluster) hold(prefix string) {
	f.mark(f.held, prefix, true)
}

func (f *fakeCluster) release(prefix string) {
	f.mark(f.held, prefix, false)
}

// silence makes the pods of Jobs whose names start with prefix succeed
// without running the trainer: no termination message.
func (f *fakeCluster) silence(prefix string) {
	f.mark(f.silent, prefix, true)
}

// fail makes the pods of Jobs whose names start with prefix fail: the
// first attempt of each index with exit code 1 (flaky), or every attempt
// OOMKilled (oom).
func (f *fakeCluster) fail(prefix string, oom bool) {
	if oom {
		f.mark(f.oom, prefix, true)
	} else {
		f.mark(f.flaky, prefix, true)
	}
}

// mark adds prefix to (or, with on false, removes it from) one of the
// cluster's sets of Job name prefixes.
func (f *fakeCluster) mark(prefixes map[string]bool, prefix string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		prefixes[prefix] = true
	} else {
		delete(prefixes, prefix)
	}
}

// holdFinish lets the pods of Jobs whose names start with prefix run and
// succeed (or fail), but leaves the Job unfinished until finish(prefix).
func (f *fakeCluster) holdFinish(prefix string) {
	f.mark(f.unfinished, prefix, true)
}

func (f *fakeCluster) finish(prefix string) {
	f.mark(f.unfinished, prefix, false)
}

// finalStatus is the Job status finishJob writes.
type finalStatus struct {
	start               metav1.Time
	succeeded, failed   int
	failReason, failMsg string
}

func (f *fakeCluster) isHeld(name string) bool { return f.matches(f.held, name) }

func (f *fakeCluster) isSilent(name string) bool { return f.matches(f.silent, name) }

func (f *fakeCluster) matches(prefixes map[string]bool, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func (f *fakeCluster) step(ctx context.Context) error {
	var jobs batchv1.JobList
	if err := f.c.List(ctx, &jobs, client.InNamespace(f.ns)); err != nil {
		return err
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if jobFinished(job) || ptr.Deref(job.Spec.Suspend, false) || f.isHeld(job.Name) || !job.DeletionTimestamp.IsZero() {
			continue
		}
		f.mu.Lock()
		final, ran := f.pending[job.UID]
		f.mu.Unlock()
		if ran {
			if f.matches(f.unfinished, job.Name) {
				continue
			}
			if err := f.finishJob(ctx, job, final); err != nil {
				return err
			}
			f.mu.Lock()
			delete(f.pending, job.UID)
			f.mu.Unlock()
			continue
		}
		if err := f.runJob(ctx, job); err != nil {
			return fmt.Errorf("job %s: %w", job.Name, err)
		}
	}
	return nil
}

// fakeNodes are the cluster's nodes: one amd64 and one arm64.
var fakeNodes = []struct {
	name   string
	labels map[string]string
}{
	{"node-amd64", map[string]string{ArchLabel: "amd64"}},
	{"node-arm64", map[string]string{ArchLabel: "arm64"}},
}

// nodeFor places a pod by its node selector, as a scheduler would on the
// fake nodes; "" when no node has the selector's labels.
func nodeFor(pod *corev1.PodSpec) string {
	for _, n := range fakeNodes {
		fits := true
		for k, v := range pod.NodeSelector {
			fits = fits && n.labels[k] == v
		}
		if fits {
			return n.name
		}
	}
	return ""
}

func (f *fakeCluster) runJob(ctx context.Context, job *batchv1.Job) error {
	var cm corev1.ConfigMap
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: job.Name}, &cm); err != nil {
		return fmt.Errorf("reading run spec ConfigMap: %w", err)
	}
	spec, err := runspec.Decode(strings.NewReader(cm.Data[specKey]))
	if err != nil {
		return err
	}
	if nodeFor(&job.Spec.Template.Spec) == "" {
		return f.pendPods(ctx, job)
	}
	start := metav1.Now()
	completions := int(ptr.Deref(job.Spec.Completions, 1))
	backoff := int(ptr.Deref(job.Spec.BackoffLimit, 6))
	failures := 0
	for idx := 0; idx < completions; idx++ {
		for attempt := 0; ; attempt++ {
			code, msg, reason := 0, "", ""
			switch {
			case f.matches(f.oom, job.Name):
				code, reason = 137, "OOMKilled"
			case f.matches(f.flaky, job.Name) && attempt == 0:
				code, msg = runspec.ExitFailure, "connection reset by peer (a transient failure)"
			case f.isSilent(job.Name):
			case f.canned != nil && (spec.Kind == runspec.KindFinetune || spec.Kind == runspec.KindSearch):
				code, msg = f.canned(spec, idx)
			default:
				code, msg = runShard(ctx, spec, idx)
			}
			if err := f.createPod(ctx, job, idx, attempt, code, msg, reason); err != nil {
				return err
			}
			if code == 0 {
				break
			}
			failures++
			if code == runspec.ExitBadInput { // podFailurePolicy: FailJob
				return f.done(ctx, job, finalStatus{start, idx, failures, "PodFailurePolicy",
					fmt.Sprintf("Container %s for pod %s/%s-%d failed with exit code %d matching FailJob rule at index 0", trainerContainer, job.Namespace, job.Name, idx, code)})
			}
			if failures > backoff {
				return f.done(ctx, job, finalStatus{start, idx, failures, "BackoffLimitExceeded", "Job has reached the specified backoff limit"})
			}
		}
	}
	return f.done(ctx, job, finalStatus{start: start, succeeded: completions, failed: failures})
}

// runShard runs the real trainer as the container would and returns its exit
// code and termination message.
func runShard(ctx context.Context, spec *runspec.Spec, idx int) (int, string) {
	sum, err := trainer.Run(ctx, spec, idx, io.Discard)
	if err != nil {
		s := runspec.Summary{Kind: spec.Kind, Shard: idx, Error: err.Error()}
		b, encErr := s.Encode()
		if encErr != nil {
			return trainer.ExitCode(err), err.Error()
		}
		return trainer.ExitCode(err), string(b)
	}
	b, err := sum.Encode()
	if err != nil {
		return runspec.ExitFailure, err.Error()
	}
	return 0, string(b)
}

// pendPods creates the Job's pods as the Job controller would and leaves
// them Pending, unschedulable, as a scheduler would when no node fits.
func (f *fakeCluster) pendPods(ctx context.Context, job *batchv1.Job) error {
	parallelism := int(ptr.Deref(job.Spec.Parallelism, 1))
	for idx := 0; idx < parallelism; idx++ {
		pod := f.podFor(job, idx, 0)
		if err := f.c.Create(ctx, pod); apierrors.IsAlreadyExists(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("creating pod: %w", err)
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, LastTransitionTime: metav1.Now(),
			Message: fmt.Sprintf("0/%d nodes are available: %d node(s) didn't match Pod's node affinity/selector.", len(fakeNodes), len(fakeNodes)),
		}}}
		if err := f.c.Status().Update(ctx, pod); err != nil {
			return fmt.Errorf("writing pod status: %w", err)
		}
	}
	return nil
}

// podFor is the pod the Job controller makes for an attempt at an index.
func (f *fakeCluster) podFor(job *batchv1.Job, idx, attempt int) *corev1.Pod {
	tmpl := job.Spec.Template.DeepCopy()
	labels := tmpl.Labels
	labels[batchv1.JobNameLabel] = job.Name
	labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(idx)
	annotations := tmpl.Annotations
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(idx)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			// Like the Job controller's <job>-<index>-<random>: a Job made
			// again under the same name (a failed run started again) has
			// pods of its own.
			Name:        fmt.Sprintf("%s-%d-%d-%s", job.Name, idx, attempt, string(job.UID)[:5]),
			Namespace:   job.Namespace,
			Labels:      labels,
			Annotations: annotations,
			// As metav1.NewControllerRef makes it.
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: tmpl.Spec,
	}
}

func (f *fakeCluster) createPod(ctx context.Context, job *batchv1.Job, idx, attempt, code int, msg, reason string) error {
	pod := f.podFor(job, idx, attempt)
	node := nodeFor(&pod.Spec)
	pod.Spec.NodeName = node
	if err := f.c.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating pod: %w", err)
	}
	phase := corev1.PodSucceeded
	switch {
	case code == 0:
		reason = "Completed"
	case reason == "":
		phase, reason = corev1.PodFailed, "Error"
	default:
		phase = corev1.PodFailed
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: phase,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:  trainerContainer,
			Image: pod.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: int32(code), Reason: reason, Message: msg, StartedAt: now, FinishedAt: now,
			}},
		}},
	}
	if err := f.c.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("writing pod status: %w", err)
	}
	return nil
}

// done finishes the Job, or keeps its final status for later when its
// finish is held (holdFinish).
func (f *fakeCluster) done(ctx context.Context, job *batchv1.Job, final finalStatus) error {
	if f.matches(f.unfinished, job.Name) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.pending[job.UID] = final
		return nil
	}
	return f.finishJob(ctx, job, final)
}

// finishJob writes the terminal Job status; failReason empty means success.
func (f *fakeCluster) finishJob(ctx context.Context, job *batchv1.Job, final finalStatus) error {
	start, succeeded, failed, failReason, failMessage := final.start, final.succeeded, final.failed, final.failReason, final.failMsg
	now := metav1.Now()
	job.Status.StartTime = &start
	job.Status.Active = 0
	job.Status.Ready = ptr.To[int32](0)
	job.Status.Terminating = ptr.To[int32](0)
	job.Status.Succeeded = int32(succeeded)
	job.Status.Failed = int32(failed)
	if succeeded > 0 {
		job.Status.CompletedIndexes = indexRange(succeeded)
	}
	if failReason == "" {
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: now, LastProbeTime: now},
		}
	} else {
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: failReason, Message: failMessage, LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: failReason, Message: failMessage, LastTransitionTime: now, LastProbeTime: now},
		}
	}
	if err := f.c.Status().Update(ctx, job); err != nil {
		return fmt.Errorf("writing Job status: %w", err)
	}
	return nil
}

func indexRange(n int) string {
	if n == 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", n-1)
}

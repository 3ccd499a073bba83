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
	// canned, when set, answers every fine-tuning shard at once instead of
	// running the trainer: the controller-scale benchmark measures the
	// operator, not the trainer.
	canned func(spec *runspec.Spec, idx int) (int, string)
}

func newFakeCluster(t *testing.T, ns string, opts ...func(*fakeCluster)) *fakeCluster {
	f := &fakeCluster{t: t, c: k8sClient, ns: ns, held: map[string]bool{}, silent: map[string]bool{}}
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
			time.Sleep(100 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// hold keeps Jobs whose names start with prefix from running until release.
func (f *fakeCluster) hold(prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held[prefix] = true
}

func (f *fakeCluster) release(prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, prefix)
}

// silence makes the pods of Jobs whose names start with prefix succeed
// without running the trainer: no termination message.
func (f *fakeCluster) silence(prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.silent[prefix] = true
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
		if err := f.runJob(ctx, job); err != nil {
			return fmt.Errorf("job %s: %w", job.Name, err)
		}
	}
	return nil
}

// nodeFor places a pod by its node selector, as a scheduler would on a
// cluster with one amd64 and one arm64 node.
func nodeFor(pod *corev1.PodSpec) (node, arch string) {
	if pod.NodeSelector[ArchLabel] == "arm64" {
		return "node-arm64", "arm64"
	}
	return "node-amd64", "amd64"
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
	start := metav1.Now()
	completions := int(ptr.Deref(job.Spec.Completions, 1))
	backoff := int(ptr.Deref(job.Spec.BackoffLimit, 6))
	failures := 0
	for idx := 0; idx < completions; idx++ {
		for attempt := 0; ; attempt++ {
			code, msg := 0, ""
			switch {
			case f.isSilent(job.Name):
			case f.canned != nil && spec.Kind == runspec.KindFinetune:
				code, msg = f.canned(spec, idx)
			default:
				code, msg = runShard(ctx, spec, idx)
			}
			if err := f.createPod(ctx, job, idx, attempt, code, msg); err != nil {
				return err
			}
			if code == 0 {
				break
			}
			failures++
			if code == runspec.ExitBadInput { // podFailurePolicy: FailJob
				return f.finishJob(ctx, job, start, idx, failures, "PodFailurePolicy",
					fmt.Sprintf("Container %s for pod %s/%s-%d failed with exit code %d matching FailJob rule at index 0", trainerContainer, job.Namespace, job.Name, idx, code))
			}
			if failures > backoff {
				return f.finishJob(ctx, job, start, idx, failures, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
			}
		}
	}
	return f.finishJob(ctx, job, start, completions, 0, "", "")
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

func (f *fakeCluster) createPod(ctx context.Context, job *batchv1.Job, idx, attempt, code int, msg string) error {
	tmpl := job.Spec.Template.DeepCopy()
	node, _ := nodeFor(&tmpl.Spec)
	labels := tmpl.Labels
	labels[batchv1.JobNameLabel] = job.Name
	labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(idx)
	annotations := tmpl.Annotations
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(idx)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			// Like the Job controller's <job>-<index>-<random>: a Job made
			// again under the same name (a failed run started again) has
			// pods of its own.
			Name:        fmt.Sprintf("%s-%d-%d-%s", job.Name, idx, attempt, string(job.UID)[:5]),
			Namespace:   job.Namespace,
			Labels:      labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr.To(true),
			}},
		},
		Spec: tmpl.Spec,
	}
	pod.Spec.NodeName = node
	if err := f.c.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating pod: %w", err)
	}
	phase := corev1.PodSucceeded
	reason := "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: phase,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:  trainerContainer,
			Image: tmpl.Spec.Containers[0].Image,
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

// finishJob writes the terminal Job status; failReason empty means success.
func (f *fakeCluster) finishJob(ctx context.Context, job *batchv1.Job, start metav1.Time, succeeded, failed int, failReason, failMessage string) error {
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

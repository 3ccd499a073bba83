package controllers

import (
	"fmt"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Reasons of a failed run's condition.
const (
	// ReasonTrainerFailed: the trainer said why (its termination message).
	ReasonTrainerFailed = "TrainerFailed"
	// ReasonOOMKilled: the kernel killed the trainer for memory; the
	// message names the container's memory limit.
	ReasonOOMKilled = "OOMKilled"
	// ReasonJobFailed: the Job failed and no pod said why.
	ReasonJobFailed = "JobFailed"
)

// How a run's failures are treated:
//
//   - bad input (the trainer's exit code runspec.ExitBadInput: unreadable
//     data, wrong schema, a model whose digest is not the spec's) fails the
//     Job at once through its podFailurePolicy: retrying cannot help;
//   - a disruption (preemption, eviction, node drain) is not counted
//     against backoffLimit;
//   - any other failure, an OOM kill included, is retried up to
//     backoffLimit; when the Job fails, the condition carries the trainer's
//     own message, or for an OOM kill the memory limit it ran into.

// badInputFailsJob is the podFailurePolicy of every run's Job.
func badInputFailsJob() *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(trainerContainer),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        []int32{runspec.ExitBadInput},
			},
		},
		{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
		},
	}}
}

// failureOf is the reason and message of the failed trainer pods: the
// trainer's own words when its termination message is a summary with an
// error, the memory limit when the kernel killed it. Empty when no failed
// pod says anything.
func failureOf(pods []corev1.Pod) (reason, message string) {
	var msgs []string
	oom := false
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase != corev1.PodFailed {
			continue
		}
		msg := strings.TrimSpace(terminationMessage(pod))
		if s, err := runspec.DecodeSummary(msg); err == nil && s.Error != "" {
			msg = s.Error
		}
		if t := trainerTerminated(pod); t != nil && t.Reason == ReasonOOMKilled {
			oom = true
			msg = oomMessage(pod, msg)
		}
		if msg == "" {
			continue
		}
		idx := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
		msgs = append(msgs, fmt.Sprintf("shard %s: %s", idx, msg))
	}
	if len(msgs) == 0 {
		return "", ""
	}
	const maxLen = 2048
	joined := strings.Join(dedupe(msgs), "; ")
	if len(joined) > maxLen {
		joined = joined[:maxLen] + "..."
	}
	if oom {
		return ReasonOOMKilled, joined
	}
	return ReasonTrainerFailed, joined
}

// oomMessage names the memory limit the trainer ran into.
func oomMessage(pod *corev1.Pod, trainerMsg string) string {
	at := "with no memory limit set (the node ran out)"
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && c.Name == trainerContainer {
			at = "at its memory limit " + q.String()
		}
	}
	msg := fmt.Sprintf("OOMKilled: the kernel killed the trainer for memory %s; raise spec.placement.resources.limits.memory or use more shards", at)
	if trainerMsg != "" {
		msg += ": " + trainerMsg
	}
	return msg
}

func trainerTerminated(pod *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == trainerContainer && cs.State.Terminated != nil {
			return cs.State.Terminated
		}
	}
	return nil
}

func terminationMessage(pod *corev1.Pod) string {
	if t := trainerTerminated(pod); t != nil {
		return t.Message
	}
	return ""
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

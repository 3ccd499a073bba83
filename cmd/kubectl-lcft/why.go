package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// WhyView is the output of "kubectl lcft why": everything that tells why
// an object of the operator waits, runs or failed.
type WhyView struct {
	Kind       string          `json:"kind"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	Phase      string          `json:"phase,omitempty"`
	Conditions []ConditionView `json:"conditions,omitempty"`
	// Progress of the run as the operator last polled it (status.progress).
	Progress *finetunev1alpha1.RunProgress `json:"progress,omitempty"`
	Kueue    KueueView                     `json:"kueue"`
	Job      *JobView                      `json:"job,omitempty"`
	Pods     []PodView                     `json:"pods,omitempty"`
	Events   []EventView                   `json:"events,omitempty"`
	// LastMessage is the trainer's termination message of the most recently
	// finished trainer container.
	LastMessage *TrainerMessage `json:"lastMessage,omitempty"`
	Notes       []string        `json:"notes,omitempty"`
}

// ConditionView is one status condition.
type ConditionView struct {
	Type               string      `json:"type"`
	Status             string      `json:"status"`
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// JobView is the state of the run's Job.
type JobView struct {
	Name       string          `json:"name"`
	Suspended  bool            `json:"suspended"`
	Active     int32           `json:"active"`
	Succeeded  int32           `json:"succeeded"`
	Failed     int32           `json:"failed"`
	Conditions []ConditionView `json:"conditions,omitempty"`
}

// PodView is one pod of the Job.
type PodView struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	Node  string `json:"node,omitempty"`
	// State of the trainer container: Waiting (reason), Running, or
	// Terminated (reason, exit code); the pod's reason when it has no status.
	State string `json:"state"`
}

// EventView is one event of the object, its Job or its pods.
type EventView struct {
	Time    metav1.Time `json:"time"`
	Type    string      `json:"type"`
	Reason  string      `json:"reason"`
	Object  string      `json:"object"`
	Count   int32       `json:"count,omitempty"`
	Message string      `json:"message"`
}

// TrainerMessage is a trainer container's termination message.
type TrainerMessage struct {
	Pod        string      `json:"pod"`
	ExitCode   int32       `json:"exitCode"`
	Reason     string      `json:"reason,omitempty"`
	FinishedAt metav1.Time `json:"finishedAt"`
	Message    string      `json:"message"`
}

// target is the object "why" explains.
type target struct {
	kind       string
	phase      string
	conditions []metav1.Condition
	jobName    string
	uid        string
	progress   *finetunev1alpha1.RunProgress
}

func newWhyCommand(o *options) *cobra.Command {
	var format string
	var events int
	cmd := &cobra.Command{
		Use:   "why NAME",
		Short: "Why a FineTuneCohort, GlobalModel or CorrectionPolicy waits, runs or failed: conditions, events, Kueue admission, Job, pods, the trainer's last message",
		Long: `why gathers on one screen what explains a run's state: the object's
conditions, the Kueue Workload of its Job (when Kueue is installed), the Job's
and its pods' states, the most recent events of the object, Job and pods, and
the termination message of the last trainer container that ended.

NAME is looked up as a FineTuneCohort, then a GlobalModel, then a
CorrectionPolicy; KIND/NAME (ftc/, gm/, cpol/ or the full kind) picks one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.printView(cmd.Context(), format, func(ctx context.Context, c client.Client, ns string) (any, func(io.Writer) error, error) {
				v, err := why(ctx, c, ns, args[0], events)
				if err != nil {
					return nil, nil, err
				}
				return v, func(w io.Writer) error { return v.table(w, o.clock()) }, nil
			})
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().IntVar(&events, "events", 10, "most recent events to show")
	return cmd
}

// kinds "why" knows, in lookup order, with their short names.
var whyKinds = []struct {
	kind  string
	short string
	get   func(ctx context.Context, c client.Client, key client.ObjectKey) (*target, error)
}{
	{"FineTuneCohort", "ftc", func(ctx context.Context, c client.Client, key client.ObjectKey) (*target, error) {
		var o finetunev1alpha1.FineTuneCohort
		if err := c.Get(ctx, key, &o); err != nil {
			return nil, err
		}
		return &target{"FineTuneCohort", string(o.Status.Phase), o.Status.Conditions, o.Status.JobName, string(o.UID), o.Status.Progress}, nil
	}},
	{"GlobalModel", "gm", func(ctx context.Context, c client.Client, key client.ObjectKey) (*target, error) {
		var o finetunev1alpha1.GlobalModel
		if err := c.Get(ctx, key, &o); err != nil {
			return nil, err
		}
		return &target{"GlobalModel", string(o.Status.Phase), o.Status.Conditions, o.Status.JobName, string(o.UID), o.Status.Progress}, nil
	}},
	{"CorrectionPolicy", "cpol", func(ctx context.Context, c client.Client, key client.ObjectKey) (*target, error) {
		var o finetunev1alpha1.CorrectionPolicy
		if err := c.Get(ctx, key, &o); err != nil {
			return nil, err
		}
		return &target{"CorrectionPolicy", string(o.Status.Phase), o.Status.Conditions, o.Status.JobName, string(o.UID), o.Status.Progress}, nil
	}},
}

// findTarget looks NAME (or KIND/NAME) up.
func findTarget(ctx context.Context, c client.Client, ns, arg string) (*target, string, error) {
	kind, name, hasKind := strings.Cut(arg, "/")
	if !hasKind {
		kind, name = "", arg
	}
	known := false
	for _, k := range whyKinds {
		if kind != "" && !strings.EqualFold(kind, k.kind) && !strings.EqualFold(kind, k.short) && !strings.EqualFold(kind, k.kind+"s") {
			continue
		}
		known = true
		t, err := k.get(ctx, c, client.ObjectKey{Namespace: ns, Name: name})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("getting %s %s/%s: %w", k.kind, ns, name, err)
		}
		return t, name, nil
	}
	if !known {
		return nil, "", fmt.Errorf("%q: kind %q is not FineTuneCohort (ftc), GlobalModel (gm) or CorrectionPolicy (cpol)", arg, kind)
	}
	return nil, "", fmt.Errorf("no FineTuneCohort, GlobalModel or CorrectionPolicy named %q in namespace %s", arg, ns)
}

func why(ctx context.Context, c client.Client, ns, arg string, maxEvents int) (*WhyView, error) {
	t, name, err := findTarget(ctx, c, ns, arg)
	if err != nil {
		return nil, err
	}
	v := &WhyView{Kind: t.kind, Namespace: ns, Name: name, Phase: t.phase, Conditions: conditionViews(t.conditions), Progress: t.progress}
	subjects := map[string]bool{t.kind + "/" + name: true}
	var job *batchv1.Job
	if t.jobName != "" {
		job = &batchv1.Job{}
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.jobName}, job)
		switch {
		case apierrors.IsNotFound(err):
			job = nil
			v.Notes = append(v.Notes, fmt.Sprintf("status.jobName is %s, but the Job does not exist (deleted, or not created yet)", t.jobName))
		case err != nil:
			return nil, fmt.Errorf("getting Job %s/%s: %w", ns, t.jobName, err)
		default:
			v.Job = jobView(job)
			subjects["Job/"+job.Name] = true
		}
	}
	if v.Kueue, err = kueueView(ctx, c, ns, job); err != nil {
		return nil, err
	}
	if job != nil {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
			return nil, fmt.Errorf("listing the pods of Job %s/%s: %w", ns, job.Name, err)
		}
		slices.SortFunc(pods.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		for i := range pods.Items {
			p := &pods.Items[i]
			v.Pods = append(v.Pods, podView(p))
			subjects["Pod/"+p.Name] = true
			if m := lastMessage(p); m != nil && (v.LastMessage == nil || m.FinishedAt.After(v.LastMessage.FinishedAt.Time)) {
				v.LastMessage = m
			}
		}
	}
	if v.Events, err = recentEvents(ctx, c, ns, subjects, maxEvents); err != nil {
		return nil, err
	}
	return v, nil
}

func conditionViews(cs []metav1.Condition) []ConditionView {
	out := make([]ConditionView, 0, len(cs))
	for _, c := range cs {
		out = append(out, ConditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime})
	}
	return out
}

func jobView(j *batchv1.Job) *JobView {
	v := &JobView{Name: j.Name, Suspended: j.Spec.Suspend != nil && *j.Spec.Suspend, Active: j.Status.Active, Succeeded: j.Status.Succeeded, Failed: j.Status.Failed}
	for _, c := range j.Status.Conditions {
		v.Conditions = append(v.Conditions, ConditionView{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime})
	}
	return v
}

// trainerStatus is the trainer container's status (the first container's
// when none is named trainer).
func trainerStatus(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == "trainer" {
			return &p.Status.ContainerStatuses[i]
		}
	}
	if len(p.Status.ContainerStatuses) > 0 {
		return &p.Status.ContainerStatuses[0]
	}
	return nil
}

func podView(p *corev1.Pod) PodView {
	v := PodView{Name: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName, State: p.Status.Reason}
	s := trainerStatus(p)
	switch {
	case s == nil:
		if v.State == "" {
			v.State = "no container status"
		}
	case s.State.Waiting != nil:
		v.State = "Waiting: " + s.State.Waiting.Reason
	case s.State.Running != nil:
		v.State = "Running"
	case s.State.Terminated != nil:
		v.State = fmt.Sprintf("Terminated: %s, exit code %d", s.State.Terminated.Reason, s.State.Terminated.ExitCode)
	}
	return v
}

// lastMessage is the pod's trainer termination message: of the current
// state when it ended, else of the last termination before a restart.
func lastMessage(p *corev1.Pod) *TrainerMessage {
	s := trainerStatus(p)
	if s == nil {
		return nil
	}
	t := s.State.Terminated
	if t == nil {
		t = s.LastTerminationState.Terminated
	}
	if t == nil || strings.TrimSpace(t.Message) == "" {
		return nil
	}
	return &TrainerMessage{Pod: p.Name, ExitCode: t.ExitCode, Reason: t.Reason, FinishedAt: t.FinishedAt, Message: strings.TrimSpace(t.Message)}
}

// recentEvents lists the namespace's events about subjects ("Kind/name"),
// newest last, at most n.
func recentEvents(ctx context.Context, c client.Client, ns string, subjects map[string]bool, n int) ([]EventView, error) {
	var list corev1.EventList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing events in %s: %w", ns, err)
	}
	var out []EventView
	for _, e := range list.Items {
		obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		if !subjects[obj] {
			continue
		}
		out = append(out, EventView{Time: eventTime(&e), Type: e.Type, Reason: e.Reason, Object: obj, Count: e.Count, Message: e.Message})
	}
	slices.SortStableFunc(out, func(a, b EventView) int { return a.Time.Compare(b.Time.Time) })
	if n >= 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// eventTime is when the event was last seen.
func eventTime(e *corev1.Event) metav1.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return metav1.Time{Time: e.Series.LastObservedTime.Time}
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.Time{Time: e.EventTime.Time}
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp
	}
	return e.CreationTimestamp
}

// age is a short duration like kubectl's: 45s, 3m, 2h, 4d.
func age(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t.Time)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func (v *WhyView) table(w io.Writer, now time.Time) error {
	fmt.Fprintf(w, "%s %s/%s: %s\n", v.Kind, v.Namespace, v.Name, cmp.Or(v.Phase, "(no phase yet)"))
	if p := v.Progress; p != nil {
		fmt.Fprintf(w, "Progress: %s, %s; %d shard(s) reporting, polled %s ago\n", p.Summary, cmp.Or(p.Stage, "no stage yet"), p.ShardsReporting, age(now, p.UpdatedAt))
	}
	fmt.Fprintln(w, "\nCONDITION\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range v.Conditions {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, age(now, c.LastTransitionTime), oneLine(c.Message))
	}
	fmt.Fprintf(w, "\nKueue: %s\n", v.Kueue.summary())
	if j := v.Job; j != nil {
		fmt.Fprintf(w, "Job %s: suspended %t, active %d, succeeded %d, failed %d\n", j.Name, j.Suspended, j.Active, j.Succeeded, j.Failed)
		for _, c := range j.Conditions {
			fmt.Fprintf(w, "  %s=%s %s: %s\n", c.Type, c.Status, c.Reason, oneLine(c.Message))
		}
	} else {
		fmt.Fprintln(w, "Job: none")
	}
	if len(v.Pods) > 0 {
		fmt.Fprintln(w, "\nPOD\tPHASE\tNODE\tTRAINER")
		for _, p := range v.Pods {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, p.Phase, cmp.Or(p.Node, "-"), p.State)
		}
	}
	if len(v.Events) > 0 {
		fmt.Fprintln(w, "\nLAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE")
		for _, e := range v.Events {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", age(now, e.Time), e.Type, e.Reason, e.Object, oneLine(e.Message))
		}
	} else {
		fmt.Fprintln(w, "\nEvents: none")
	}
	if m := v.LastMessage; m != nil {
		fmt.Fprintf(w, "\nTrainer's last message (pod %s, exit code %d, %s ago):\n", m.Pod, m.ExitCode, age(now, m.FinishedAt))
		for _, l := range strings.Split(m.Message, "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	notes(w, v.Notes)
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

package controllers

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Progress of a running Job comes from its shards' trainers, which serve it
// on runspec.ProgressPath: the trainer pods have no API credentials, so the
// manager polls them, and writes status.progress at most once per
// progress interval per object, whatever the number of shards or objects.
// Only the pods the Job controls (summary_trust.go) are asked, at their
// pod IP, which only the kubelet sets. What they answer is input: bounded,
// validated, and used for nothing but status.progress.
const (
	// DefaultProgressInterval is how often an object's progress is polled
	// and written when --progress-interval is unset.
	DefaultProgressInterval = 10 * time.Second
	// DefaultProgressPort is the trainer's progress port when
	// --progress-port is unset.
	DefaultProgressPort = runspec.DefaultProgressPort
	// MinProgressInterval bounds the interval from below.
	MinProgressInterval = 2 * time.Second
	// progressTimeout bounds one poll of one pod.
	progressTimeout = time.Second
	// progressPollers is the number of pods of one Job polled at once.
	progressPollers = 16
)

// progressInterval is the configured interval, at least
// MinProgressInterval and rounded up to whole seconds (status times have
// seconds); 0 when polling is off.
func (o Options) progressInterval() time.Duration {
	switch {
	case o.ProgressInterval < 0:
		return 0
	case o.ProgressInterval == 0:
		return DefaultProgressInterval
	}
	d := max(o.ProgressInterval, MinProgressInterval)
	return (d + time.Second - 1).Truncate(time.Second)
}

// progressLedger remembers when each object's progress was last polled,
// so that a reconcile that reads a cached object older than the manager's
// own last write does not poll and write again within the interval.
type progressLedger struct {
	mu   sync.Mutex
	last map[types.UID]time.Time
}

var progressPolls = &progressLedger{last: map[types.UID]time.Time{}}

func (l *progressLedger) get(uid types.UID) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[uid]
}

func (l *progressLedger) set(uid types.UID, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last[uid] = t
	if len(l.last) > 1024 { // objects deleted mid-run are never forgotten one by one
		for u, at := range l.last {
			if t.Sub(at) > time.Hour {
				delete(l.last, u)
			}
		}
	}
}

// forget drops an object whose run ended or that is gone.
func (l *progressLedger) forget(uid types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.last, uid)
}

func (o Options) progressPort() int32 {
	if o.ProgressPort > 0 {
		return o.ProgressPort
	}
	return runspec.DefaultProgressPort
}

// defaultProgressClient asks pods directly: no proxy from the manager's
// environment, no redirects, a short timeout.
var defaultProgressClient = &http.Client{
	Timeout: progressTimeout,
	Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: progressTimeout}).DialContext,
		ResponseHeaderTimeout: progressTimeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       30 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (o Options) progressClient() *http.Client {
	if o.ProgressClient != nil {
		return o.ProgressClient
	}
	return defaultProgressClient
}

// trackProgress updates *p with the Job's progress when the interval since
// its last update has passed, and returns when to look again (0: polling
// is off). A shard whose pod does not answer keeps its last known
// progress; a shard whose pod succeeded counts as done.
func (k runner) trackProgress(ctx context.Context, owner types.UID, job *batchv1.Job, p **finetunev1alpha1.RunProgress, now time.Time) (time.Duration, error) {
	interval := k.opts.progressInterval()
	if interval == 0 {
		return 0, nil
	}
	last := progressPolls.get(owner)
	if prev := *p; prev != nil && prev.UpdatedAt.After(last) {
		last = prev.UpdatedAt.Time
	}
	if wait := last.Add(interval).Sub(now); wait > 0 {
		return wait, nil
	}
	pods, err := listPods(ctx, k.Client, job)
	if err != nil {
		return 0, err
	}
	shards := int(ptr.Deref(job.Spec.Completions, 1))
	polled := k.pollShards(ctx, pods.Items, shards)
	next := mergeProgress(*p, polled, pods.Items, shards, now)
	if prev := *p; prev == nil && next.ShardsReporting == 0 || prev != nil && sameProgress(prev, next) {
		progressPolls.set(owner, now) // nothing to write (no shard has answered yet, or nothing moved)
		return interval, nil
	}
	*p = next
	progressPolls.set(owner, next.UpdatedAt.Time)
	return interval, nil
}

// sooner is the earlier of two requeue delays, where 0 is none.
func sooner(a, b time.Duration) time.Duration {
	if a == 0 || b > 0 && b < a {
		return b
	}
	return a
}

// sameProgress reports whether a and b differ only in when they were polled.
func sameProgress(a, b *finetunev1alpha1.RunProgress) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	a.UpdatedAt, b.UpdatedAt = metav1.Time{}, metav1.Time{}
	return equality.Semantic.DeepEqual(a, b)
}

// polledShard is one pod's answer.
type polledShard struct {
	index    int
	progress *runspec.Progress
}

// pollShards asks each running pod of the Job for its progress, a few at
// a time; pods that do not answer, or answer badly, are left out.
func (k runner) pollShards(ctx context.Context, pods []corev1.Pod, shards int) []polledShard {
	type target struct {
		index int
		url   string
	}
	var targets []target
	port := strconv.Itoa(int(k.opts.progressPort()))
	for i := range pods {
		pod := &pods[i]
		idx, ok := shardIndex(pod, shards)
		if !ok || pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || !pod.DeletionTimestamp.IsZero() {
			continue
		}
		targets = append(targets, target{idx, "http://" + net.JoinHostPort(pod.Status.PodIP, port) + runspec.ProgressPath})
	}
	out := make([]polledShard, len(targets))
	sem := make(chan struct{}, progressPollers)
	var wg sync.WaitGroup
	client := k.opts.progressClient()
	for i, t := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pr, err := getProgress(ctx, client, t.url)
			if err != nil || pr.Shard != t.index {
				return // informational: the next poll tries again
			}
			out[i] = polledShard{t.index, pr}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(out, func(s polledShard) bool { return s.progress == nil })
}

// getProgress fetches and checks one shard's progress.
func getProgress(ctx context.Context, client *http.Client, url string) (*runspec.Progress, error) {
	ctx, cancel := context.WithTimeout(ctx, progressTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("progress request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("polling progress: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("polling progress: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, runspec.MaxProgressBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading progress: %w", err)
	}
	return runspec.DecodeProgress(b)
}

// shardIndex is the completion index of a pod of a Job of shards shards.
func shardIndex(pod *corev1.Pod, shards int) (int, bool) {
	idx, err := strconv.Atoi(pod.Annotations[batchv1.JobCompletionIndexAnnotation])
	return idx, err == nil && idx >= 0 && idx < shards
}

// mergeProgress is the new status.progress: the shards that answered, the
// others as last known (done, when their pod succeeded), summed in the
// unit of the shards with the most work.
func mergeProgress(prev *finetunev1alpha1.RunProgress, polled []polledShard, pods []corev1.Pod, shards int, now time.Time) *finetunev1alpha1.RunProgress {
	byIndex := map[int32]finetunev1alpha1.ShardProgress{}
	if prev != nil {
		for _, s := range prev.Shards {
			if s.Index >= 0 && int(s.Index) < shards {
				byIndex[s.Index] = s
			}
		}
	}
	for i := range pods {
		if idx, ok := shardIndex(&pods[i], shards); ok && pods[i].Status.Phase == corev1.PodSucceeded {
			if s, known := byIndex[int32(idx)]; known {
				s.Done = s.Total
				byIndex[int32(idx)] = s
			}
		}
	}
	for _, s := range polled {
		pr := s.progress
		byIndex[int32(s.index)] = finetunev1alpha1.ShardProgress{
			Index: int32(s.index), Stage: pr.Stage, Unit: string(pr.Unit), Done: pr.Done, Total: pr.Total,
			StageSeconds: int64(math.Round(pr.StageSeconds)),
		}
	}
	out := &finetunev1alpha1.RunProgress{UpdatedAt: metav1.NewTime(now.Truncate(time.Second))}
	for _, s := range byIndex {
		out.Shards = append(out.Shards, s)
	}
	slices.SortFunc(out.Shards, func(a, b finetunev1alpha1.ShardProgress) int { return int(a.Index - b.Index) })
	out.ShardsReporting = int32(len(out.Shards))
	sumProgress(out)
	return out
}

// sumProgress fills the totals of p from its shards: done and total of the
// shards in the unit and stage with the largest total, their summed rate
// (each shard's done over its time in the stage: shards run side by
// side), and the time left of the slowest of them.
func sumProgress(p *finetunev1alpha1.RunProgress) {
	type key struct{ stage, unit string }
	totals := map[key]int64{}
	var best key
	for _, s := range p.Shards {
		k := key{s.Stage, s.Unit}
		totals[k] += s.Total
		if totals[k] > totals[best] || totals[k] == totals[best] && best == (key{}) {
			best = k
		}
	}
	p.Stage, p.Unit = best.stage, best.unit
	var rate, eta float64
	rated := true
	for _, s := range p.Shards {
		if (key{s.Stage, s.Unit}) != best {
			continue
		}
		p.Done += s.Done
		p.Total += s.Total
		left := s.Total - s.Done
		if left == 0 {
			continue
		}
		if s.Done == 0 || s.StageSeconds == 0 {
			rated = false
			continue
		}
		r := float64(s.Done) / float64(s.StageSeconds)
		rate += r
		eta = max(eta, float64(left)/r)
	}
	if p.Total > 0 {
		p.Percent = int32(p.Done * 100 / p.Total)
	}
	if rate > 0 {
		p.RatePerSecond = finetunev1alpha1.Decimal(strconv.FormatFloat(rate, 'f', 1, 64))
	}
	if rated && (rate > 0 || p.Total > 0 && p.Done == p.Total) {
		p.ETASeconds = ptr.To(int64(math.Ceil(eta)))
	}
	p.Summary = progressSummary(p)
}

// progressSummary is the printer column's text.
func progressSummary(p *finetunev1alpha1.RunProgress) string {
	if p.Total == 0 {
		if p.Stage == "" {
			return "starting"
		}
		return p.Stage
	}
	s := fmt.Sprintf("%d%% (%d/%d %s", p.Percent, p.Done, p.Total, p.Unit)
	if p.ETASeconds != nil {
		s += ", ETA " + (time.Duration(*p.ETASeconds) * time.Second).String()
	}
	return s + ")"
}

// stageDone is the stage and summary of a run that succeeded.
const stageDone = "done"

// endProgress is status.progress once the run of owner ended: all done
// when it succeeded, as it was when it failed; no rate or time left either
// way. A run that succeeded reads "done" whatever the last poll saw (a run
// shorter than the poll interval was seen only "loading", and the shards
// that answered may not be all of them, so their counts are no total).
func endProgress(owner types.UID, p *finetunev1alpha1.RunProgress, succeeded bool) *finetunev1alpha1.RunProgress {
	progressPolls.forget(owner)
	if p == nil {
		return nil
	}
	p = p.DeepCopy()
	p.RatePerSecond, p.ETASeconds = "", nil
	if !succeeded {
		p.Summary = progressSummary(p) + " stopped"
		return p
	}
	for i := range p.Shards {
		p.Shards[i].Done = p.Shards[i].Total
		p.Shards[i].Stage = stageDone
	}
	p.Done, p.Percent, p.Stage, p.Summary = p.Total, 100, stageDone, stageDone
	return p
}

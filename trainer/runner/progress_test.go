package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/progress"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// pollingLog fetches the progress endpoint every time the runner writes a
// log line: the lines are written mid-run, so each fetch sees the run
// while it is going, and, with one worker, at a known point of it.
type pollingLog struct {
	t     *testing.T
	url   string
	lines []string
	seen  []runspec.Progress
}

func (w *pollingLog) Write(p []byte) (int, error) {
	resp, err := http.Get(w.url)
	if err != nil {
		return 0, fmt.Errorf("polling progress: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	pr, err := runspec.DecodeProgress(b)
	if err != nil {
		w.t.Errorf("the endpoint served invalid progress %s: %v", b, err)
		return len(p), nil
	}
	w.lines = append(w.lines, strings.TrimRight(string(p), "\n"))
	w.seen = append(w.seen, *pr)
	return len(p), nil
}

// runPolled runs spec with one worker, a tracker served over HTTP, and a
// log that polls it at every line.
func runPolled(t *testing.T, spec *runspec.Spec) *pollingLog {
	t.Helper()
	tr := progress.NewTracker(spec.Kind, 0)
	srv := httptest.NewServer(tr)
	t.Cleanup(srv.Close)
	w := &pollingLog{t: t, url: srv.URL + runspec.ProgressPath}
	opts := defaultOptions()
	opts.workers, opts.pretrainWorkers, opts.tracker = 1, 1, tr
	if _, err := run(context.Background(), spec, 0, w, opts); err != nil {
		t.Fatalf("run: %v", err)
	}
	return w
}

// TestProgressDuringRun checks what the progress endpoint says in the
// middle of a pretraining and a per-user fine-tuning: at each epoch line
// the samples of the epochs so far, at each "d/N users" line d of N users,
// and never a step back within a stage.
func TestProgressDuringRun(t *testing.T) {
	ds := synthDataset(120, 20, 0.5, 11)
	pw := runPolled(t, pretrainSpec(ds, "LR", "mem://progress/model", 3))
	epochLine := regexp.MustCompile(`epoch (\d+)/(\d+): lr \S+, loss \S+, (\d+) samples in`)
	epochs := 0
	for i, line := range pw.lines {
		m := epochLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		e, _ := strconv.Atoi(m[1])
		of, _ := strconv.Atoi(m[2])
		n, _ := strconv.ParseInt(m[3], 10, 64)
		want := runspec.Progress{Kind: runspec.KindPretrain, Stage: "pretraining", Unit: runspec.UnitSamples, Done: int64(e) * n, Total: int64(of) * n}
		if got := pw.seen[i]; got.Stage != want.Stage || got.Unit != want.Unit || got.Done != want.Done || got.Total != want.Total || got.Kind != want.Kind {
			t.Errorf("at %q the endpoint said %+v, want %+v", line, got, want)
		}
		epochs++
	}
	if epochs != 2 {
		t.Fatalf("saw %d epoch lines, want 2: %q", epochs, pw.lines)
	}
	checkMonotone(t, pw.seen)

	p := mustPretrain(t, pretrainSpec(ds, "LR", "mem://progress/model2", 3))
	fw := runPolled(t, finetuneSpec(ds, p, "Auto", "", "mem://progress/cohort", 0.1, 1, 1))
	userLine := regexp.MustCompile(`per-user fine-tuning: (\d+)/(\d+) users`)
	mid := 0
	for i, line := range fw.lines {
		m := userLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, _ := strconv.ParseInt(m[1], 10, 64)
		n, _ := strconv.ParseInt(m[2], 10, 64)
		got := fw.seen[i]
		if got.Stage != "fine-tuning" || got.Unit != runspec.UnitUsers || got.Done != d || got.Total != n {
			t.Errorf("at %q the endpoint said %+v, want fine-tuning %d of %d users", line, got, d, n)
		}
		if d > 0 && d < n {
			mid++
		}
	}
	if mid < 2 {
		t.Fatalf("saw progress mid-run %d times, want at least 2: %q", mid, fw.lines)
	}
	checkMonotone(t, fw.seen)
}

// checkMonotone fails when done goes back within a stage.
func checkMonotone(t *testing.T, seen []runspec.Progress) {
	t.Helper()
	for i := 1; i < len(seen); i++ {
		a, b := seen[i-1], seen[i]
		if a.Stage == b.Stage && b.Done < a.Done {
			t.Errorf("progress went back in stage %s: %d then %d", a.Stage, a.Done, b.Done)
		}
	}
}

// TestSearchProgressCountsCells checks that a search's total is its
// users × (cells + Auto) × seeds and that it ends complete.
func TestSearchProgressCountsCells(t *testing.T) {
	ds := synthDataset(120, 20, 0.5, 12)
	_, a := holdoutModel(t, ds, "LR", "mem://progress/searchmodel", 3, 0.25)
	spec := searchSpecFor(ds, a, "mem://progress/search", 1, 0.1, 1)
	spec.Search.Seeds = []int64{1, 2}
	tr := progress.NewTracker(spec.Kind, 0)
	opts := defaultOptions()
	opts.tracker = tr
	sum, err := run(context.Background(), spec, 0, nil, opts)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	var want int64
	for _, g := range sum.Search.Groups {
		want += g.Users * int64(len(g.Cells)+1)
	}
	want *= int64(sum.Search.Seeds)
	got := tr.Snapshot()
	if got.Stage != "searching" || got.Unit != runspec.UnitCells || got.Total != want || got.Done != want {
		t.Fatalf("after the search the endpoint says %+v, want searching %d of %d cells", got, want, want)
	}
}

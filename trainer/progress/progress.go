// Package progress counts a trainer shard's progress and serves it over
// HTTP (runspec.ProgressPath) for the controller to poll: the trainer pod
// has no API credentials, so it never writes status itself.
//
// A Tracker is a handful of atomics: the hot loops add to it once per
// batch or per user, without locks or allocation; a nil *Tracker ignores
// everything, so code that runs without an endpoint (tests, the CLI's
// local commands) passes nil.
package progress

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// stage is what Begin sets, swapped as a whole.
type stage struct {
	name  string
	unit  runspec.ProgressUnit
	total int64
	start time.Time
}

// Tracker holds one shard's progress; safe for concurrent use.
type Tracker struct {
	kind  runspec.Kind
	shard int
	stage atomic.Pointer[stage]
	done  atomic.Int64
	now   func() time.Time
}

// NewTracker starts a tracker of shard shard of a run of kind kind, in
// stage "loading".
func NewTracker(kind runspec.Kind, shard int) *Tracker {
	t := &Tracker{kind: kind, shard: shard, now: time.Now}
	t.Begin("loading", "", 0)
	return t
}

// Begin starts a stage of total units; done restarts at 0.
func (t *Tracker) Begin(name string, unit runspec.ProgressUnit, total int64) {
	if t == nil {
		return
	}
	t.done.Store(0)
	t.stage.Store(&stage{name: name, unit: unit, total: max(total, 0), start: t.now()})
}

// Add counts n more units done in the current stage.
func (t *Tracker) Add(n int64) {
	if t == nil {
		return
	}
	t.done.Add(n)
}

// Snapshot is the progress now. Done is capped at the total (a stage whose
// total was an estimate never reports more than all of it).
func (t *Tracker) Snapshot() runspec.Progress {
	if t == nil {
		return runspec.Progress{}
	}
	s := t.stage.Load()
	done := min(max(t.done.Load(), 0), s.total)
	return runspec.Progress{
		Kind: t.kind, Shard: t.shard, Stage: s.name, Unit: s.unit, Done: done, Total: s.total,
		StageSeconds: max(t.now().Sub(s.start).Seconds(), 0),
	}
}

// ServeHTTP answers GET runspec.ProgressPath with the snapshot as JSON.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != runspec.ProgressPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(t.Snapshot()) // the poller retries on a broken write
}

// Serve serves t on addr until ctx ends. The listener is open when Serve
// returns without error; the server runs on its own goroutine, and its
// errors after that are lost (progress is informational).
func Serve(ctx context.Context, addr string, t *Tracker) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("progress endpoint on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           t,
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return ln.Addr(), nil
}

package progress

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func TestTrackerStages(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := NewTracker(runspec.KindSearch, 3)
	tr.now = func() time.Time { return now }
	tr.Begin("searching", runspec.UnitCells, 50)
	tr.Add(20)
	now = now.Add(4 * time.Second)
	if got, want := tr.Snapshot(), (runspec.Progress{Kind: runspec.KindSearch, Shard: 3, Stage: "searching", Unit: runspec.UnitCells, Done: 20, Total: 50, StageSeconds: 4}); got != want {
		t.Fatalf("snapshot %+v, want %+v", got, want)
	}
	tr.Add(40) // more than the total: capped
	if got := tr.Snapshot(); got.Done != 50 {
		t.Fatalf("done %d above the total 50", got.Done)
	}
	tr.Begin("writing", "", 0)
	if got := tr.Snapshot(); got.Done != 0 || got.StageSeconds != 0 || got.Stage != "writing" {
		t.Fatalf("a new stage did not restart: %+v", got)
	}
	var none *Tracker
	none.Begin("x", runspec.UnitUsers, 1)
	none.Add(1)
	if got := none.Snapshot(); got != (runspec.Progress{}) {
		t.Fatalf("nil tracker snapshot %+v", got)
	}
}

func TestServeHTTP(t *testing.T) {
	tr := NewTracker(runspec.KindFinetune, 0)
	tr.Begin("fine-tuning", runspec.UnitUsers, 10)
	tr.Add(4)
	srv := httptest.NewServer(tr)
	defer srv.Close()
	resp, err := http.Get(srv.URL + runspec.ProgressPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p runspec.Progress
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Done != 4 || p.Total != 10 || p.Unit != runspec.UnitUsers {
		t.Fatalf("served %+v", p)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{{http.MethodPost, runspec.ProgressPath, http.StatusMethodNotAllowed}, {http.MethodGet, "/metrics", http.StatusNotFound}} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
	}
}

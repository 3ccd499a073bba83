package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompare(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newCohort(t, ns, "ctr-a", cohortA)
	newCohort(t, ns, "ctr-b", cohortB)
	out, _, err := run(t, ns, "compare", "ctr-a", "ctr-b", "-o", "json")
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	var got CompareView
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decoding: %v\n%s", err, out)
	}
	// Shared users u2, u3, u4 (10 test samples each). By hand: Cloud
	// (0.70+0.80+0.99)/3 = 0.83 in both; Local (0.70+0.85+0.90)/3 = 0.81667
	// in both; LCFT A (0.75+0.90+0.95)/3 = 0.86667, B 0.87667: B-A is 0.01
	// for every shared user, so its interval is [0.01, 0.01]. B over all
	// four users: Cloud 2.99/4, Local 2.95/4, LCFT 3.13/4.
	zero := Interval{Mean: ptrTo(0), Lo: ptrTo(0), Hi: ptrTo(0), Users: 3}
	want := CompareView{Namespace: ns, A: "ctr-a", B: "ctr-b", Runs: []CompareRun{{
		Architecture: "WideDeep", Strategy: "Auto", UsersA: 4, UsersB: 4, SharedUsers: 3,
		Methods: []CompareMethod{
			{Method: "Cloud", A: ptrTo(0.7725), B: ptrTo(2.99 / 4), SharedA: ptrTo(0.83), SharedB: ptrTo(0.83), BMinusA: zero},
			{Method: "Local", A: ptrTo(0.7675), B: ptrTo(2.95 / 4), SharedA: ptrTo(2.45 / 3), SharedB: ptrTo(2.45 / 3), BMinusA: zero},
			{Method: "LCFT", A: ptrTo(0.8175), B: ptrTo(3.13 / 4), SharedA: ptrTo(2.60 / 3), SharedB: ptrTo(2.63 / 3),
				BMinusA: Interval{Mean: ptrTo(0.01), Lo: ptrTo(0.01), Hi: ptrTo(0.01), Users: 3}},
		},
	}}}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("compare -o json (-want +got):\n%s", diff)
	}

	out, _, err = run(t, ns, "compare", "ctr-a", "ctr-b")
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	wantRows := []string{
		"MODEL     STRATEGY  METHOD  A        B        SHARED USERS  A (SHARED)  B (SHARED)  B-A [95% CI] (SHARED)",
		"WideDeep  Auto      Cloud   0.77250  0.74750  3             0.83000     0.83000     +0.00000 [+0.00000, +0.00000]",
		"WideDeep  Auto      Local   0.76750  0.73750  3             0.81667     0.81667     +0.00000 [+0.00000, +0.00000]",
		"WideDeep  Auto      LCFT    0.81750  0.78250  3             0.86667     0.87667     +0.01000 [+0.01000, +0.01000] *",
	}
	if diff := cmp.Diff(wantRows, lines(out)[2:6]); diff != "" {
		t.Errorf("compare table (-want +got):\n%s\n%s", diff, out)
	}
}

func TestPlots(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newCohort(t, ns, "ctr-a", cohortA)
	dir := t.TempDir()
	out, _, err := run(t, ns, "plots", "ctr-a", "-o", dir)
	if err != nil {
		t.Fatalf("plots: %v", err)
	}
	var want []string
	for _, chart := range []string{"local-ctr", "lift-by-ctr", "auc-changes"} {
		for _, f := range []string{"png", "svg"} {
			want = append(want, filepath.Join(dir, "ctr-a-"+chart+"."+f))
		}
	}
	if diff := cmp.Diff(want, lines(out)); diff != "" {
		t.Errorf("files printed (-want +got):\n%s", diff)
	}
	for _, p := range want {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading a picture: %v", err)
		}
		if strings.HasSuffix(p, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", p)
		}
		if strings.HasSuffix(p, ".svg") && !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not an SVG", p)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// Cohort A: four users on two shards, all with 10 test samples (equal
// weights), LCFT exactly 0.05 above Local for every user. By hand:
// Cloud (0.60+0.70+0.80+0.99)/4 = 0.7725, Local (0.62+0.70+0.85+0.90)/4 =
// 0.7675, LCFT (0.67+0.75+0.90+0.95)/4 = 0.8175; LCFT-Local 0.05 with the
// interval [0.05, 0.05] (every resample's mean of a constant); LCFT-Cloud
// per user 0.07, 0.05, 0.10, -0.04: mean 0.045, three users up, one down.
var cohortA = [][]user{
	{{"u1", 0.05, 10, 0.60, 0.62, 0.67}, {"u2", 0.15, 10, 0.70, 0.70, 0.75}},
	{{"u3", 0.55, 10, 0.80, 0.85, 0.90}, {"u4", 0.95, 10, 0.99, 0.90, 0.95}},
}

// Cohort B shares u2, u3 and u4 with A, each with LCFT 0.01 higher and the
// same Cloud and Local AUCs, and has u5 of its own.
var cohortB = [][]user{
	{{"u2", 0.15, 10, 0.70, 0.70, 0.76}, {"u3", 0.55, 10, 0.80, 0.85, 0.91}, {"u4", 0.95, 10, 0.99, 0.90, 0.96}, {"u5", 0.35, 10, 0.50, 0.50, 0.50}},
}

// newCohort creates a Succeeded FineTuneCohort whose report is shards,
// written under a temporary directory.
func newCohort(t *testing.T, ns, name string, shards [][]user) *finetunev1alpha1.FineTuneCohort {
	t.Helper()
	ctx := context.Background()
	uri := writeReport(t, t.TempDir(), "Auto", shards)
	c := cohortObject(ns, name, int32(len(shards)))
	if err := k8sClient.Create(ctx, c); err != nil {
		t.Fatalf("creating cohort %s: %v", name, err)
	}
	c.Status.Phase = finetunev1alpha1.PhaseSucceeded
	c.Status.ReportURI = uri
	if err := k8sClient.Status().Update(ctx, c); err != nil {
		t.Fatalf("writing the status of cohort %s: %v", name, err)
	}
	return c
}

func ptrTo(v float64) *float64 { return &v }

// approx compares floats to 1e-9: the fixtures' decimal AUCs are not exact
// in binary.
var approx = cmpopts.EquateApprox(0, 1e-9)

func TestReportJSON(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newCohort(t, ns, "ctr-a", cohortA)
	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			out, _, err := run(t, ns, "report", "ctr-a", "-o", format)
			if err != nil {
				t.Fatalf("report: %v", err)
			}
			var got ReportView
			if format == "json" {
				err = json.Unmarshal([]byte(out), &got)
			} else {
				err = yaml.Unmarshal([]byte(out), &got)
			}
			if err != nil {
				t.Fatalf("decoding %s: %v\n%s", format, err, out)
			}
			s := got.Models[0].Strategies[0]
			// The bootstrap interval of LCFT-Cloud is checked for shape:
			// resampled means of 0.07, 0.05, 0.10, -0.04 lie in [-0.04, 0.10].
			lc := s.LCFTvsCloud
			if lc.Lo == nil || lc.Hi == nil || !(*lc.Lo >= -0.04-1e-12 && *lc.Lo <= 0.045 && 0.045 <= *lc.Hi && *lc.Hi <= 0.10+1e-12) {
				t.Errorf("LCFT-Cloud interval %v, want lo <= 0.045 <= hi within [-0.04, 0.10]", lc)
			}
			s.LCFTvsCloud = Interval{}
			got.Models[0].Strategies[0] = s
			got.ReportURI = ""
			bucket := func(lo, hi float64, local, lcft float64) BucketView {
				return BucketView{Lo: lo, Hi: hi, Users: 1, Local: ptrTo(local), LCFT: ptrTo(lcft), Lift: Interval{Mean: ptrTo(0.05), Lo: ptrTo(0.05), Hi: ptrTo(0.05), Users: 1}}
			}
			empty := func(lo, hi float64) BucketView { return BucketView{Lo: lo, Hi: hi} }
			want := ReportView{
				Namespace: ns, Cohort: "ctr-a", Phase: "Succeeded", Shards: 2, ShardsRead: 2,
				Models: []ModelView{{Architecture: "WideDeep", GlobalCTR: 0.3, Strategies: []StrategyView{{
					Strategy: "Auto", Users: 4, Cloud: ptrTo(0.7725), Local: ptrTo(0.7675), LCFT: ptrTo(0.8175),
					LCFTvsLocal: Interval{Mean: ptrTo(0.05), Lo: ptrTo(0.05), Hi: ptrTo(0.05), Users: 4},
					UsersUp:     3, UsersSame: 0, UsersDown: 1,
					Lift: []BucketView{
						bucket(0, 0.1, 0.62, 0.67), bucket(0.1, 0.2, 0.70, 0.75), empty(0.2, 0.3), empty(0.3, 0.4), empty(0.4, 0.5),
						bucket(0.5, 0.6, 0.85, 0.90), empty(0.6, 0.7), empty(0.7, 0.8), empty(0.8, 0.9), bucket(0.9, 1, 0.90, 0.95),
					},
				}}}},
			}
			if diff := cmp.Diff(want, got, approx); diff != "" {
				t.Errorf("report -o %s (-want +got):\n%s", format, diff)
			}
		})
	}
}

func TestReportTable(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	c := newCohort(t, ns, "ctr-a", cohortA)
	out, _, err := run(t, ns, "report", "ctr-a", "--buckets", "2")
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	got := lines(out)
	// Row 3 holds the bootstrap interval of LCFT-Cloud, checked in
	// TestReportJSON; here its columns up to LCFT-LOCAL and after it.
	if len(got) < 4 || !strings.HasPrefix(got[3], "WideDeep  Auto      4      0.77250  0.76750  0.81750  +0.05000 [+0.05000, +0.05000] *  +0.04500 [") ||
		!strings.HasSuffix(got[3], "  3   0     1") {
		t.Errorf("summary row:\n%q\nin\n%s", got[3], out)
	}
	want := []string{
		"FineTuneCohort " + ns + "/ctr-a (Succeeded), report " + c.Status.ReportURI + ", 2 of 2 shard(s)",
		"",
		"Lift of LCFT over Local per local-CTR bucket (WideDeep, Auto; global CTR 0.3000)",
		"LOCAL CTR     USERS  LOCAL    LCFT     LIFT [95% CI]",
		// Bucket [0, 0.5): u1, u2 ((0.62+0.70)/2 = 0.66, (0.67+0.75)/2 = 0.71);
		// [0.5, 1]: u3, u4 (0.875, 0.925).
		"[0.00, 0.50)  2      0.66000  0.71000  +0.05000 [+0.05000, +0.05000] *",
		"[0.50, 1.00]  2      0.87500  0.92500  +0.05000 [+0.05000, +0.05000] *",
	}
	if diff := cmp.Diff(want, []string{got[0], got[1], got[5], got[6], got[7], got[8]}); diff != "" {
		t.Errorf("report table (-want +got):\n%s\n%s", diff, out)
	}
}

func TestReportErrors(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	ctx := context.Background()
	pending := cohortObject(ns, "pending", 1)
	if err := k8sClient.Create(ctx, pending); err != nil {
		t.Fatal(err)
	}
	empty := newCohort(t, ns, "emptied", cohortB)
	dir := strings.TrimPrefix(empty.Status.ReportURI, "file://")
	if err := os.Remove(filepath.Join(dir, "report-shard-0.json")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"report", "missing"}, `getting FineTuneCohort ` + ns + `/missing`},
		{[]string{"report", "pending"}, `FineTuneCohort ` + ns + `/pending has no report yet`},
		{[]string{"report", "emptied"}, `FineTuneCohort ` + ns + `/emptied: no report-shard-0.json under ` + empty.Status.ReportURI},
		{[]string{"report", "emptied", "-o", "wide"}, `-o "wide": want table, json or yaml`},
		{[]string{"plots", "emptied"}, `plots needs -o DIR`},
		{[]string{"--context", "nowhere", "report", "emptied"}, `loading the kubeconfig: context "nowhere" does not exist`},
	}
	for _, tc := range cases {
		_, _, err := run(t, ns, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}

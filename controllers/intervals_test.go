package controllers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// A cohort's LCFT-Local and LCFT-Cloud intervals come from the sums of its
// shards; they equal the interval of all per-user rows taken together, and
// `kubectl get ftc` shows LCFT-Local's with its significance.
func TestCohortIntervalFromAllUserRows(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	users := fakeCohortUsers()
	newFakeCluster(t, ns, func(f *fakeCluster) {
		f.canned = func(spec *runspec.Spec, idx int) (int, string) { return encodeShard(cohortShard(spec, idx, users)) }
	})
	startManager(t)

	gm := modelObj(ns, "wd")
	c := cohortObj(ns, "intervals", "wd", withShards(3))
	create(t, gm, c)
	waitCohort(t, c, v1.PhaseSucceeded)
	st := c.Status
	t.Logf("LCFT-Local %s %+v; LCFT-Cloud %s %+v", st.LiftVsLocal, st.LiftVsLocalInterval, st.LiftVsCloud, st.LiftVsCloudInterval)

	// The same sums over all users at once, as one shard would add them.
	var local, cloud runspec.PairedSums
	var ns_, dLocal, dCloud []float64
	for _, u := range users {
		observe(t, &local, u.n, u.lcft-u.local)
		observe(t, &cloud, u.n, u.lcft-u.cloud)
		ns_, dLocal, dCloud = append(ns_, float64(u.n)), append(dLocal, u.lcft-u.local), append(dCloud, u.lcft-u.cloud)
	}
	if diff := cmp.Diff(pairedInterval(local), st.LiftVsLocalInterval); diff != "" {
		t.Errorf("LCFT-Local interval differs from all rows' (-all rows +status):\n%s", diff)
	}
	if diff := cmp.Diff(pairedInterval(cloud), st.LiftVsCloudInterval); diff != "" {
		t.Errorf("LCFT-Cloud interval differs from all rows' (-all rows +status):\n%s", diff)
	}
	// And, computed again in plain floating point from the rows:
	m, lo, hi := referenceInterval(ns_, dLocal)
	checkInterval(t, "LCFT-Local", st.LiftVsLocalInterval, m, lo, hi)
	m, lo, hi = referenceInterval(ns_, dCloud)
	checkInterval(t, "LCFT-Cloud", st.LiftVsCloudInterval, m, lo, hi)
	if st.LiftVsLocalInterval.Users != int64(len(users)) {
		t.Errorf("LCFT-Local interval over %d users; want %d", st.LiftVsLocalInterval.Users, len(users))
	}
	// The rows were drawn so that LCFT beats Local clearly and Cloud not.
	if !st.LiftVsLocalInterval.Significant || st.LiftVsCloudInterval.Significant {
		t.Errorf("significant: LCFT-Local %v, LCFT-Cloud %v; want true, false", st.LiftVsLocalInterval.Significant, st.LiftVsCloudInterval.Significant)
	}
	// The interval's mean is the status' lift (the AUC sums' difference).
	if a, b := parseFloat(t, st.LiftVsLocal), parseFloat(t, st.LiftVsLocalInterval.Mean); math.Abs(a-b) > 2e-5 {
		t.Errorf("liftVsLocal %s, interval mean %s", st.LiftVsLocal, st.LiftVsLocalInterval.Mean)
	}

	table := cohortTable(t, ns)
	col := map[string]int{}
	for i, d := range table.ColumnDefinitions {
		col[d.Name] = i
	}
	if len(table.Rows) != 1 {
		t.Fatalf("table rows %+v", table.Rows)
	}
	row := table.Rows[0].Cells
	if fmt.Sprint(row[col["95% CI"]]) != st.LiftVsLocalInterval.Range || row[col["Significant"]] != true {
		t.Errorf("kubectl get ftc: 95%% CI %v, Significant %v; want %s, true", row[col["95% CI"]], row[col["Significant"]], st.LiftVsLocalInterval.Range)
	}
}

func TestPairedIntervalStatus(t *testing.T) {
	// Differences in 64ths keep n*d and n*d^2 exact in the sums' fixed point
	// (1/64 = 0.015625 prints as 0.01562: a tie rounds to even).
	one := runspec.PairedSums{}
	observe(t, &one, 10, 1.0/64)
	two := one
	observe(t, &two, 30, 3.0/64)
	// Two users: m = (10/64 + 90/64)/40 = 0.0390625; sum n(d-m)^2 =
	// 10*(1.5/64)^2 + 30*(0.5/64)^2 = 30/4096; s^2 = (30/4096)/(40 - 1000/40)
	// = 2/4096; se = sqrt(1000*2/4096)/40 = 0.01746928; half-width
	// 1.959964*se = 0.03423916: [0.00482334, 0.07330166].
	cases := []struct {
		name string
		in   runspec.PairedSums
		want *v1.LiftInterval
	}{
		{"no users", runspec.PairedSums{}, nil},
		{"one user: mean only", one, &v1.LiftInterval{Mean: "0.01562", Range: "n/a", Users: 1}},
		{"two users", two, &v1.LiftInterval{Mean: "0.03906", Low: "0.00482", High: "0.07330", Range: "[0.00482, 0.07330]", Significant: true, Users: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, pairedInterval(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// cohortUser is one user's test AUCs in the three arms.
type cohortUser struct {
	id                 int
	n                  int64
	cloud, local, lcft float64
}

// fakeCohortUsers: LCFT is about 0.01 above Local for every user (noise
// 0.01), and about Cloud's level with much noise.
func fakeCohortUsers() []cohortUser {
	var users []cohortUser
	for id := range 60 {
		r := rand.New(rand.NewPCG(uint64(id), 5))
		noise := func(s float64) float64 { return s * (2*r.Float64() - 1) }
		u := cohortUser{id: id, n: 3 + int64(r.IntN(30)), cloud: 0.65 + noise(0.1)}
		u.local = u.cloud - 0.01 + noise(0.06)
		u.lcft = u.local + 0.01 + noise(0.01)
		users = append(users, u)
	}
	return users
}

// cohortShard is what a fine-tuning shard reports for its users (id modulo
// the shard count).
func cohortShard(spec *runspec.Spec, idx int, users []cohortUser) *runspec.Summary {
	f := &runspec.FinetuneStats{Seconds: 0.01}
	for _, u := range users {
		if u.id%spec.Shards != idx {
			continue
		}
		n := float64(u.n)
		f.Users++
		f.Samples += 4 * u.n
		f.LocalCTRSum += 0.3
		f.Cloud = f.Cloud.Add(runspec.WeightedAUC{Sum: n * u.cloud, Weight: n})
		f.Local = f.Local.Add(runspec.WeightedAUC{Sum: n * u.local, Weight: n})
		f.LCFT = f.LCFT.Add(runspec.WeightedAUC{Sum: n * u.lcft, Weight: n})
		if err := f.LCFTLocal.Observe(u.n, u.lcft-u.local); err != nil {
			return &runspec.Summary{Kind: spec.Kind, Shard: idx, Error: err.Error()}
		}
		if err := f.LCFTCloud.Observe(u.n, u.lcft-u.cloud); err != nil {
			return &runspec.Summary{Kind: spec.Kind, Shard: idx, Error: err.Error()}
		}
	}
	return &runspec.Summary{Kind: spec.Kind, Shard: idx, Arch: "amd64", Finetune: f}
}

// referenceInterval is the n-weighted mean of d and its normal 95%
// interval with reliability weights, in plain floating point:
// m = sum n*d / W, s^2 = sum n*(d-m)^2 / (W - sum n^2 / W),
// se = sqrt(s^2 * sum n^2) / W, m -/+ 1.959964*se.
func referenceInterval(ns, ds []float64) (mean, lo, hi float64) {
	var w, w2, s float64
	for i, n := range ns {
		w, w2, s = w+n, w2+n*n, s+n*ds[i]
	}
	mean = s / w
	var ss float64
	for i, n := range ns {
		ss += n * (ds[i] - mean) * (ds[i] - mean)
	}
	se := math.Sqrt(ss/(w-w2/w)*w2) / w
	return mean, mean - 1.959963984540054*se, mean + 1.959963984540054*se
}

func observe(t *testing.T, p *runspec.PairedSums, n int64, d float64) {
	t.Helper()
	if err := p.Observe(n, d); err != nil {
		t.Fatal(err)
	}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return v
}

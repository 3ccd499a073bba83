package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
)

// compareSeed seeds the paired bootstrap of compare: the same two reports
// always give the same intervals.
const compareSeed = 1

// CompareView is the output of "kubectl lcft compare A B".
type CompareView struct {
	Namespace string       `json:"namespace"`
	A         string       `json:"a"`
	B         string       `json:"b"`
	Runs      []CompareRun `json:"runs"`
	Notes     []string     `json:"notes,omitempty"`
}

// CompareRun pairs one model and strategy present in both reports.
type CompareRun struct {
	Architecture string          `json:"architecture"`
	Strategy     string          `json:"strategy"`
	UsersA       int             `json:"usersA"`
	UsersB       int             `json:"usersB"`
	SharedUsers  int             `json:"sharedUsers"`
	Methods      []CompareMethod `json:"methods"`
}

// CompareMethod is one method (Cloud, Local, LCFT) of both runs: the
// user-level AUC of each run over all its users, the same over the shared
// users, and B minus A over the shared users with its paired bootstrap
// interval (users who have a defined AUC in both runs).
type CompareMethod struct {
	Method  string   `json:"method"`
	A       *float64 `json:"a"`
	B       *float64 `json:"b"`
	SharedA *float64 `json:"sharedA"`
	SharedB *float64 `json:"sharedB"`
	BMinusA Interval `json:"bMinusA"`
}

func newCompareCommand(o *options) *cobra.Command {
	var format string
	var resamples int
	cmd := &cobra.Command{
		Use:   "compare COHORT_A COHORT_B",
		Short: "Two runs side by side, with paired bootstrap intervals of B minus A over the users they share",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if resamples < 1 {
				return fmt.Errorf("--resamples %d: want at least 1", resamples)
			}
			return o.printView(cmd.Context(), format, func(ctx context.Context, c client.Client, ns string) (any, func(io.Writer) error, error) {
				a, err := loadCohortReport(ctx, c, ns, args[0])
				if err != nil {
					return nil, nil, err
				}
				b, err := loadCohortReport(ctx, c, ns, args[1])
				if err != nil {
					return nil, nil, err
				}
				v, err := compareView(a, b, resamples)
				if err != nil {
					return nil, nil, err
				}
				return v, v.table, nil
			})
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().IntVar(&resamples, "resamples", runner.DefaultBootstrapResamples, "bootstrap resamples of the paired intervals")
	return cmd
}

// compareView pairs the (model, strategy) runs of a and b by architecture
// and strategy name.
func compareView(a, b *cohortReport, resamples int) (*CompareView, error) {
	v := &CompareView{Namespace: a.Cohort.Namespace, A: a.Cohort.Name, B: b.Cohort.Name}
	for _, n := range a.Result.Notes {
		v.Notes = append(v.Notes, a.Cohort.Name+": "+n)
	}
	for _, n := range b.Result.Notes {
		v.Notes = append(v.Notes, b.Cohort.Name+": "+n)
	}
	for _, ma := range a.Result.Experiment.Models {
		for _, ra := range ma.Strategies {
			rb := findRun(b, ma.Architecture, ra.Strategy)
			if rb == nil {
				v.Notes = append(v.Notes, fmt.Sprintf("%s %s is only in %s", ma.Architecture, ra.Strategy, a.Cohort.Name))
				continue
			}
			run, err := compareRun(ma.Architecture, ra, rb, resamples)
			if err != nil {
				return nil, err
			}
			if run.SharedUsers == 0 {
				v.Notes = append(v.Notes, fmt.Sprintf("%s %s: the runs share no user: no paired intervals", ma.Architecture, ra.Strategy))
			}
			v.Runs = append(v.Runs, run)
		}
	}
	for _, mb := range b.Result.Experiment.Models {
		for _, rb := range mb.Strategies {
			if findRun(a, mb.Architecture, rb.Strategy) == nil {
				v.Notes = append(v.Notes, fmt.Sprintf("%s %s is only in %s", mb.Architecture, rb.Strategy, b.Cohort.Name))
			}
		}
	}
	return v, nil
}

func findRun(cr *cohortReport, arch, strategy string) *runner.Report {
	for _, m := range cr.Result.Experiment.Models {
		if !strings.EqualFold(m.Architecture, arch) {
			continue
		}
		for _, r := range m.Strategies {
			if strings.EqualFold(r.Strategy, strategy) {
				return r
			}
		}
	}
	return nil
}

// compareRun compares two reports of one model and strategy. A user's
// weight in the shared AUCs and the intervals is the mean of its test-set
// sizes in the two runs (equal when both read the same data).
func compareRun(arch string, a, b *runner.Report, resamples int) (CompareRun, error) {
	run := CompareRun{Architecture: arch, Strategy: a.Strategy, UsersA: a.LCFT.Users, UsersB: b.LCFT.Users}
	inB := make(map[string]int, len(b.Users))
	for i, u := range b.Users {
		inB[u.User] = i
	}
	var pairs [][2]runner.UserRow
	for _, u := range a.Users {
		if j, ok := inB[u.User]; ok {
			pairs = append(pairs, [2]runner.UserRow{u, b.Users[j]})
		}
	}
	run.SharedUsers = len(pairs)
	methods := []struct {
		name string
		a, b runner.Float
		of   func(runner.UserRow) runner.Float
	}{
		{"Cloud", a.Cloud.AUC, b.Cloud.AUC, func(u runner.UserRow) runner.Float { return u.Cloud }},
		{"Local", a.Local.AUC, b.Local.AUC, func(u runner.UserRow) runner.Float { return u.Local }},
		{"LCFT", a.LCFT.AUC, b.LCFT.AUC, func(u runner.UserRow) runner.Float { return u.LCFT }},
	}
	for _, m := range methods {
		cm := CompareMethod{Method: m.name, A: num(float64(m.a)), B: num(float64(m.b))}
		var xa, xb, w []float64
		for _, p := range pairs {
			ya, yb := float64(m.of(p[0])), float64(m.of(p[1]))
			if math.IsNaN(ya) || math.IsNaN(yb) {
				continue
			}
			xa, xb, w = append(xa, ya), append(xb, yb), append(w, float64(p[0].Test+p[1].Test)/2)
		}
		if len(w) > 0 {
			sa, err := metrics.WeightedMean(xa, w)
			if err != nil {
				return run, fmt.Errorf("%s %s %s over shared users: %w", arch, a.Strategy, m.name, err)
			}
			sb, err := metrics.WeightedMean(xb, w)
			if err != nil {
				return run, fmt.Errorf("%s %s %s over shared users: %w", arch, a.Strategy, m.name, err)
			}
			if x, ok := sa.Value(); ok {
				cm.SharedA = &x
			}
			if x, ok := sb.Value(); ok {
				cm.SharedB = &x
			}
			mean, lo, hi, err := metrics.PairedBootstrap(xb, xa, w, resamples, compareSeed)
			if err != nil {
				return run, fmt.Errorf("%s %s %s: %w", arch, a.Strategy, m.name, err)
			}
			cm.BMinusA = Interval{Mean: num(mean), Lo: num(lo), Hi: num(hi), Users: len(w)}
		}
		run.Methods = append(run.Methods, cm)
	}
	return run, nil
}

func (v *CompareView) table(w io.Writer) error {
	fmt.Fprintf(w, "A: FineTuneCohort %s/%s   B: FineTuneCohort %s/%s\n\n", v.Namespace, v.A, v.Namespace, v.B)
	fmt.Fprintln(w, "MODEL\tSTRATEGY\tMETHOD\tA\tB\tSHARED USERS\tA (SHARED)\tB (SHARED)\tB-A [95% CI] (SHARED)")
	for _, r := range v.Runs {
		for _, m := range r.Methods {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Architecture, r.Strategy, m.Method,
				auc(m.A), auc(m.B), m.BMinusA.Users, auc(m.SharedA), auc(m.SharedB), m.BMinusA)
		}
	}
	fmt.Fprintln(w, "\nA and B: user-level AUCs of each run over all its users. SHARED: over the users both runs evaluated (defined AUC in both), each weighted by the mean of its two test-set sizes; B-A: paired bootstrap over those users, * when the interval excludes 0.")
	notes(w, v.Notes)
	return nil
}

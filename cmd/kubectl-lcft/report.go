package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lcft-dev/lcft-operator/trainer/report"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
)

// ReportView is the output of "kubectl lcft report".
type ReportView struct {
	Namespace  string      `json:"namespace"`
	Cohort     string      `json:"cohort"`
	Phase      string      `json:"phase,omitempty"`
	ReportURI  string      `json:"reportURI"`
	Shards     int         `json:"shards"`
	ShardsRead int         `json:"shardsRead"`
	Models     []ModelView `json:"models"`
	Notes      []string    `json:"notes,omitempty"`
}

// ModelView is one global model of a report.
type ModelView struct {
	Architecture string         `json:"architecture"`
	GlobalCTR    float64        `json:"globalCTR"`
	Strategies   []StrategyView `json:"strategies"`
}

// StrategyView is one correction strategy's results: user-level AUCs,
// paired intervals of LCFT minus Local and minus Cloud, users whose AUC
// went up, stayed or went down versus Cloud, and the lift of LCFT over
// Local per local-CTR bucket.
type StrategyView struct {
	Strategy    string       `json:"strategy"`
	Users       int          `json:"users"`
	Cloud       *float64     `json:"cloudAUC"`
	Local       *float64     `json:"localAUC"`
	LCFT        *float64     `json:"lcftAUC"`
	LCFTvsLocal Interval     `json:"lcftVsLocal"`
	LCFTvsCloud Interval     `json:"lcftVsCloud"`
	UsersUp     int          `json:"usersUp"`
	UsersSame   int          `json:"usersSame"`
	UsersDown   int          `json:"usersDown"`
	Lift        []BucketView `json:"liftByLocalCTR,omitempty"`
}

// BucketView is the lift of LCFT over Local among users whose local CTR is
// in [Lo, Hi) (the last bucket holds Hi too).
type BucketView struct {
	Lo    float64  `json:"lo"`
	Hi    float64  `json:"hi"`
	Users int      `json:"users"`
	Local *float64 `json:"localAUC"`
	LCFT  *float64 `json:"lcftAUC"`
	Lift  Interval `json:"lift"`
}

func newReportCommand(o *options) *cobra.Command {
	var format string
	var buckets int
	cmd := &cobra.Command{
		Use:   "report COHORT",
		Short: "Cloud / Local / LCFT with intervals, users up / same / down, lift per local-CTR bucket",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.printView(cmd.Context(), format, func(ctx context.Context, c client.Client, ns string) (any, func(io.Writer) error, error) {
				cr, err := loadCohortReport(ctx, c, ns, args[0])
				if err != nil {
					return nil, nil, err
				}
				v, err := reportView(cr, buckets)
				if err != nil {
					return nil, nil, err
				}
				return v, v.table, nil
			})
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().IntVar(&buckets, "buckets", 10, "equal local-CTR buckets of the lift")
	return cmd
}

// reportView summarises a cohort's merged report.
func reportView(cr *cohortReport, buckets int) (*ReportView, error) {
	v := &ReportView{
		Namespace: cr.Cohort.Namespace, Cohort: cr.Cohort.Name, Phase: string(cr.Cohort.Status.Phase),
		ReportURI: cr.Cohort.Status.ReportURI, Shards: cr.Shards, ShardsRead: cr.Read, Notes: cr.Result.Notes,
	}
	for _, m := range cr.Result.Experiment.Models {
		f, err := report.Build(m, report.Options{Buckets: buckets})
		if err != nil {
			return nil, fmt.Errorf("cohort %s, model %s: %w", cr.Cohort.Name, m.Architecture, err)
		}
		mv := ModelView{Architecture: m.Architecture, GlobalCTR: f.GlobalCTR}
		for i, r := range m.Strategies {
			sv := StrategyView{
				Strategy: r.Strategy, Users: r.LCFT.Users,
				Cloud: num(float64(r.Cloud.AUC)), Local: num(float64(r.Local.AUC)), LCFT: num(float64(r.LCFT.AUC)),
				LCFTvsLocal: interval(r.LCFTvsLocal), LCFTvsCloud: interval(r.LCFTvsCloud),
				UsersUp: f.Changes[i].Improved, UsersSame: f.Changes[i].Unchanged, UsersDown: f.Changes[i].Degraded,
			}
			for _, l := range f.Lift {
				if l.Strategy != r.Strategy {
					continue
				}
				for _, b := range l.Bars {
					sv.Lift = append(sv.Lift, BucketView{
						Lo: b.Lo, Hi: b.Hi, Users: b.Users, Local: num(b.Local), LCFT: num(b.LCFT),
						Lift: Interval{Mean: num(b.Lift), Lo: num(b.CILo), Hi: num(b.CIHi), Users: b.Users},
					})
				}
			}
			mv.Strategies = append(mv.Strategies, sv)
		}
		v.Models = append(v.Models, mv)
	}
	return v, nil
}

func interval(iv runner.Interval) Interval {
	return Interval{Mean: num(float64(iv.Mean)), Lo: num(float64(iv.Lo)), Hi: num(float64(iv.Hi)), Users: iv.Users}
}

// table prints the summary table and one lift table per strategy.
func (v *ReportView) table(w io.Writer) error {
	fmt.Fprintf(w, "FineTuneCohort %s/%s (%s), report %s, %d of %d shard(s)\n\n", v.Namespace, v.Cohort, v.Phase, v.ReportURI, v.ShardsRead, v.Shards)
	fmt.Fprintln(w, "MODEL\tSTRATEGY\tUSERS\tCLOUD\tLOCAL\tLCFT\tLCFT-LOCAL [95% CI]\tLCFT-CLOUD [95% CI]\tUP\tSAME\tDOWN")
	for _, m := range v.Models {
		for _, s := range m.Strategies {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", m.Architecture, s.Strategy, s.Users,
				auc(s.Cloud), auc(s.Local), auc(s.LCFT), s.LCFTvsLocal, s.LCFTvsCloud, s.UsersUp, s.UsersSame, s.UsersDown)
		}
	}
	for _, m := range v.Models {
		for _, s := range m.Strategies {
			if len(s.Lift) == 0 {
				continue
			}
			fmt.Fprintf(w, "\nLift of LCFT over Local per local-CTR bucket (%s, %s; global CTR %.4f)\n", m.Architecture, s.Strategy, m.GlobalCTR)
			fmt.Fprintln(w, "LOCAL CTR\tUSERS\tLOCAL\tLCFT\tLIFT [95% CI]")
			for k, b := range s.Lift {
				end := ")"
				if k == len(s.Lift)-1 {
					end = "]" // the last bucket holds its upper edge
				}
				fmt.Fprintf(w, "[%.2f, %.2f%s\t%d\t%s\t%s\t%s\n", b.Lo, b.Hi, end, b.Users, auc(b.Local), auc(b.LCFT), b.Lift)
			}
		}
	}
	fmt.Fprintln(w, "\nAUCs are user-level (weighted by test-set size). CIs: paired bootstrap over users, * when the interval excludes 0. UP / SAME / DOWN: users whose LCFT AUC is above, equal to or below their Cloud AUC.")
	notes(w, v.Notes)
	return nil
}

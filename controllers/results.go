package controllers

import (
	"errors"
	"fmt"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// errNoUsers: the run worked, but no user of the dataset is in the cohort.
var errNoUsers = errors.New("no user of the dataset falls in the cohort's ctrRange")

// writeCohortResults adds the shard summaries up and writes the cohort's
// results. The AUCs are exact for any shard count: each shard reports the
// sums of n_u*AUC_u and n_u, and the cohort's AUC is their ratio.
func writeCohortResults(st *finetunev1alpha1.FineTuneCohortStatus, strategy, globalCTR string, out runOutcome) error {
	var total runspec.FinetuneStats
	var samplesPerSecond float64
	for i, s := range out.summaries {
		if s.Finetune == nil {
			return fmt.Errorf("shard %d finished without fine-tuning results in its summary", i)
		}
		total.Add(s.Finetune)
		if s.Finetune.Seconds > 0 {
			samplesPerSecond += float64(s.Finetune.Samples) / s.Finetune.Seconds
		}
	}
	st.DatasetDigest = out.summaries[0].DatasetDigest
	st.OutOfVocabulary = nil
	if total.OOVSamples > 0 {
		st.OutOfVocabulary = &finetunev1alpha1.OutOfVocabulary{Samples: total.OOVSamples, Users: total.OOVUsers, Items: total.OOVItems}
	}
	st.Users = total.Users
	st.SkippedUsers = total.SkippedUsers
	st.SingleClassUsers = total.SingleClassUsers
	st.Samples = total.Samples
	st.UsersImproved, st.UsersUnchanged, st.UsersDegraded = total.Improved, total.Unchanged, total.Degraded
	st.Shards = out.shards
	st.SamplesPerSecond = formatDecimal(samplesPerSecond)
	if total.Users > 0 {
		st.MeanLocalCTR = formatDecimal(total.LocalCTRSum / float64(total.Users))
	}
	labels := &finetunev1alpha1.CorrectedLabels{
		Strategy:       finetunev1alpha1.CorrectionStrategy(strategy),
		GlobalCTR:      finetunev1alpha1.Decimal(globalCTR),
		UsersCorrected: total.CorrectedUsers,
	}
	if total.Samples > 0 {
		labels.MeanPositiveLabel = formatLabel(total.PositiveLabelSum / float64(total.Samples))
		labels.MeanNegativeLabel = formatLabel(total.NegativeLabelSum / float64(total.Samples))
	}
	st.Labels = labels

	cloud, okCloud := total.Cloud.Value()
	local, okLocal := total.Local.Value()
	lcft, okLCFT := total.LCFT.Value()
	if !okCloud || !okLocal || !okLCFT {
		// Not a failure of the run: the cohort had no user with a two-class test set.
		st.CloudAUC, st.LocalAUC, st.LCFTAUC, st.LiftVsCloud, st.LiftVsLocal = "", "", "", "", ""
		if total.Users == 0 && total.SkippedUsers == 0 {
			return errNoUsers
		}
		return nil
	}
	st.CloudAUC, st.LocalAUC, st.LCFTAUC = formatDecimal(cloud), formatDecimal(local), formatDecimal(lcft)
	st.LiftVsCloud = formatSigned(lcft - cloud)
	st.LiftVsLocal = formatSigned(lcft - local)
	return nil
}

func recordAUCs(c *finetunev1alpha1.FineTuneCohort) {
	d := &decimals{}
	for kind, v := range map[string]finetunev1alpha1.Decimal{"cloud": c.Status.CloudAUC, "local": c.Status.LocalAUC, "lcft": c.Status.LCFTAUC} {
		if v != "" {
			cohortAUC.WithLabelValues(c.Namespace, c.Name, kind).Set(parse(d, kind, v, 0))
		}
	}
}

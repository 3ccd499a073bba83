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
// sums of n_u*AUC_u and n_u, and the cohort's AUC is their ratio. A Pooled
// run's group model (saved by shard 0 under the run's output, outputURI
// being the spec's before pvc:// mounting) goes to status.model.
func writeCohortResults(st *finetunev1alpha1.FineTuneCohortStatus, strategy, globalCTR, outputURI, scope string, out runOutcome) error {
	var total runspec.FinetuneStats
	var samplesPerSecond float64
	st.Model, st.UserModels = nil, nil
	for i, s := range out.summaries {
		if s.Finetune == nil {
			return fmt.Errorf("shard %d finished without fine-tuning results in its summary", i)
		}
		if m := s.Model; m != nil && st.Model == nil {
			st.Model = &finetunev1alpha1.CohortModel{URI: unmountURI(m.URI, outputURI), Digest: m.Digest,
				GlobalCTR: finetunev1alpha1.Decimal(globalCTR), RolledBack: m.RolledBack}
		}
		total.Add(s.Finetune)
		if s.UserModelsURI != "" {
			if st.UserModels == nil {
				st.UserModels = &finetunev1alpha1.UserModelsStatus{Scope: finetunev1alpha1.FineTuningScope(scope)}
			}
			st.UserModels.URIs = append(st.UserModels.URIs, unmountURI(s.UserModelsURI, outputURI))
		}
		if s.Finetune.Seconds > 0 {
			samplesPerSecond += float64(s.Finetune.Samples) / s.Finetune.Seconds
		}
	}
	st.DatasetDigest = out.summaries[0].DatasetDigest
	st.OutOfVocabulary = nil
	if total.OOVSamples > 0 {
		st.OutOfVocabulary = &finetunev1alpha1.OutOfVocabulary{Samples: total.OOVSamples, Users: total.OOVUsers, Items: total.OOVItems}
	}
	st.DivergedUsers = &finetunev1alpha1.DivergedUsers{Local: total.DivergedUsers.Local, LCFT: total.DivergedUsers.LCFT}
	if um := st.UserModels; um != nil {
		um.Users, um.Bytes = total.UserModels, total.UserModelBytes
		if um.Users > 0 {
			um.BytesPerUser = (um.Bytes + um.Users/2) / um.Users
		}
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
		st.LiftVsLocalInterval, st.LiftVsCloudInterval = nil, nil
		if total.Users == 0 && total.SkippedUsers == 0 {
			return errNoUsers
		}
		return nil
	}
	writeCohortIntervals(st, &total)
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

package controllers

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Condition reasons of a Hard search.
const (
	// ReasonModelHasNoHoldout: the search's GlobalModel saw every training
	// row in pretraining, so the search has no honest validation rows; it
	// is refused and no Job is made.
	ReasonModelHasNoHoldout = "ModelHasNoHoldout"
	// ReasonSearchComplete: the shards' sums were combined into the table.
	ReasonSearchComplete = "SearchComplete"
	// ReasonInvalidSearchSummary: the shards' summaries could not be combined.
	ReasonInvalidSearchSummary = "InvalidSearchSummary"
	// ReasonSearchDataIsNotModelData: the search's dataset is not the one
	// its model was pretrained on, so the model's holdout rows are not
	// known to be unseen there.
	ReasonSearchDataIsNotModelData = "SearchDataIsNotModelData"
)

// searchOnModelData says why spec's dataset is not the dataset gm was
// pretrained on, or "". A model's holdout is the last rows of each user in
// its own training data: in other data (another source, threshold, split
// or synthetic draw) the rows a search validates on may be rows the model
// trained on, which is the bias the holdout removes. (The trainer checks
// the held-out row counts too, but only after a Job has started.) Which
// histories test samples see does not change which rows were trained on,
// so it may differ.
func searchOnModelData(gm *finetunev1alpha1.GlobalModel, spec runspec.Spec) string {
	if gm.Spec.Training == nil {
		return ""
	}
	searched := spec.Dataset
	trained := resolveDataset(&decimals{}, "", gm.Spec.Training.Dataset, int32(searched.HistoryLength))
	searched.TestHistories, trained.TestHistories = "", ""
	searched.Partitions, trained.Partitions = nil, nil
	searched.Split.HoldoutFraction, trained.Split.HoldoutFraction = 0, 0
	if reflect.DeepEqual(searched, trained) {
		return ""
	}
	return fmt.Sprintf("spec.search.dataset differs from GlobalModel %s's spec.training.dataset (source, threshold, split or synthetic parameters): "+
		"its holdout rows are unseen by the model only in the data it was pretrained on; search on that dataset", gm.Name)
}

// modelHoldout says why a search cannot validate on gm's holdout, or "".
func modelHoldout(gm *finetunev1alpha1.GlobalModel) string {
	d := &decimals{}
	h := parse(d, "status.holdoutFraction", gm.Status.HoldoutFraction, 0)
	if err := d.err(); err != nil {
		return fmt.Sprintf("GlobalModel %s: %v", gm.Name, err)
	}
	if h > 0 {
		return ""
	}
	if gm.Spec.Import != nil {
		return fmt.Sprintf("GlobalModel %s is imported and records no holdout: a search must validate on rows the model never trained on; "+
			"pretrain a GlobalModel with spec.training.holdoutFraction (for example \"0.2\") and search on it", gm.Name)
	}
	return fmt.Sprintf("GlobalModel %s was pretrained on every training row (no spec.training.holdoutFraction): a search must validate on rows the model never trained on; "+
		"create a GlobalModel with spec.training.holdoutFraction (for example \"0.2\") and a policy that searches on it", gm.Name)
}

// searchSeeds are the seeds a search repeats over (as the trainer reads
// them: the spec's seeds, or the fine-tuning seed alone).
func searchSeeds(spec runspec.Spec) []int64 {
	if len(spec.Search.Seeds) > 0 {
		return append([]int64(nil), spec.Search.Seeds...)
	}
	return []int64{int64(spec.Optimization.Seed)}
}

// searchSucceeded combines the shards' additive per-cell sums into the
// policy's table: per group the chosen cell (Hard) or Auto, the lifts over
// Auto and Local with 95% intervals, and the reason of the choice.
func (r *CorrectionPolicyReconciler) searchSucceeded(p *finetunev1alpha1.CorrectionPolicy, out runOutcome, conds conditions) {
	res, err := runspec.CombineSearch(out.summaries)
	if err == nil && len(res.Groups) == 0 {
		err = fmt.Errorf("the search finished without groups in its summaries")
	}
	if err != nil {
		p.Status.Groups = nil
		p.Status.Phase = finetunev1alpha1.PhaseFailed
		conds.phase(p.Status.Phase, ReasonInvalidSearchSummary, err.Error())
		jobsFailed.WithLabelValues("CorrectionPolicy").Inc()
		return
	}
	p.Status.SkippedUsers = res.SkippedUsers
	p.Status.Groups = searchedGroups(res)
	hard := 0
	for _, g := range p.Status.Groups {
		if g.Strategy == finetunev1alpha1.GroupHard {
			hard++
		}
	}
	msg := fmt.Sprintf("searched %d label groups over %d shard(s) and %d seed(s): %d take a searched cell, %d keep Auto",
		len(p.Status.Groups), res.Shards, res.Seeds, hard, len(p.Status.Groups)-hard)
	p.Status.Phase = finetunev1alpha1.PhaseReady
	conds.phase(p.Status.Phase, ReasonSearchComplete, msg)
	r.event(p, corev1.EventTypeNormal, ReasonSearchComplete, "Completed", "%s", msg)
}

// searchedGroups is the status table of a combined search.
func searchedGroups(res *runspec.SearchResult) []finetunev1alpha1.ResolvedLabelGroup {
	groups := make([]finetunev1alpha1.ResolvedLabelGroup, 0, len(res.Groups))
	for _, g := range res.Groups {
		rg := finetunev1alpha1.ResolvedLabelGroup{
			CTRRange:     finetunev1alpha1.CTRRange{Min: formatDecimal(g.Min), Max: formatDecimal(g.Max)},
			Strategy:     finetunev1alpha1.GroupAuto,
			Users:        g.Users,
			ScoredUsers:  g.ScoredUsers,
			MeanLocalCTR: formatDecimal(g.MeanLocalCTR),
			Reason:       g.Reason,
			Message:      g.Message,
			LiftVsAuto:   liftInterval(g.LiftVsAuto, g.ScoredUsers >= 2),
			LiftVsLocal:  liftInterval(g.LiftVsLocal, g.ScoredUsers >= 2),
		}
		if !g.Auto {
			rg.Strategy = finetunev1alpha1.GroupHard
			rg.PositiveLabel, rg.NegativeLabel = formatLabel(g.Chosen.Positive), formatLabel(g.Chosen.Negative)
		}
		for _, c := range g.Cells {
			rg.Cells = append(rg.Cells, finetunev1alpha1.SearchCell{
				PositiveLabel: formatLabel(c.Positive),
				NegativeLabel: formatLabel(c.Negative),
				Source:        c.Source,
				LiftVsAuto:    liftInterval(c.LiftVsAuto, c.LiftVsAuto.Users >= 2),
				LiftVsLocal:   liftInterval(c.LiftVsLocal, c.LiftVsLocal.Users >= 2),
				Diverged:      c.Diverged > 0, // invalid, never chosen
				DivergedUsers: c.Diverged,
			})
		}
		groups = append(groups, rg)
	}
	return groups
}

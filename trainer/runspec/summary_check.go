package runspec

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Validate checks that a decoded summary could have come from a trainer
// shard: a known kind, the statistics of that kind when the shard
// succeeded, no negative counts, AUC statistics within [0, 1] and finite
// numbers. The controller puts these numbers in status, where users read
// the AUC to decide which model to ship: it takes none it cannot believe.
func (s *Summary) Validate() error {
	var errs []error
	if s.Shard < 0 {
		errs = append(errs, fmt.Errorf("shard %d is negative", s.Shard))
	}
	switch s.Kind {
	case KindPretrain, KindVerify, KindFinetune, KindSearch:
	case "":
		if s.Error == "" {
			errs = append(errs, errors.New("kind is empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("kind %q is not one of pretrain, finetune, search, verify", s.Kind))
	}
	if s.Error == "" {
		errs = append(errs, s.checkStatsPresent())
	}
	errs = append(errs, nonNegative("peakRSS", s.PeakRSSBytes), nonNegative("cgroupPeak", s.CgroupPeakBytes))
	if s.Finetune != nil {
		errs = append(errs, s.Finetune.validate())
	}
	if s.Pretrain != nil {
		errs = append(errs, s.Pretrain.validate())
	}
	if s.Search != nil {
		errs = append(errs, s.Search.validate())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid shard summary: %w", err)
	}
	return nil
}

// checkStatsPresent: a succeeded shard reports the statistics of its kind.
func (s *Summary) checkStatsPresent() error {
	var ok bool
	switch s.Kind {
	case KindFinetune:
		ok = s.Finetune != nil
	case KindPretrain, KindVerify:
		ok = s.Pretrain != nil
	case KindSearch:
		ok = s.Search != nil
	default:
		return nil // reported by Validate
	}
	if !ok {
		return fmt.Errorf("a %s summary without an error has no %s statistics", s.Kind, s.Kind)
	}
	return nil
}

func (f *FinetuneStats) validate() error {
	counts := []struct {
		name string
		v    int64
	}{
		{"users", f.Users}, {"skipped", f.SkippedUsers}, {"singleClass", f.SingleClassUsers},
		{"improved", f.Improved}, {"unchanged", f.Unchanged}, {"degraded", f.Degraded},
		{"corrected", f.CorrectedUsers}, {"samples", f.Samples}, {"oovSamples", f.OOVSamples},
		{"oovUsers", f.OOVUsers}, {"oovItems", f.OOVItems}, {"bytesRead", f.BytesRead},
		{"divergedUsers.local", f.DivergedUsers.Local}, {"divergedUsers.lcft", f.DivergedUsers.LCFT},
		{"userModels", f.UserModels}, {"userModelBytes", f.UserModelBytes},
	}
	errs := make([]error, 0, len(counts)+8)
	for _, c := range counts {
		errs = append(errs, nonNegative("finetune."+c.name, c.v))
	}
	errs = append(errs,
		f.Cloud.validate("finetune.cloud"), f.Local.validate("finetune.local"), f.LCFT.validate("finetune.lcft"),
		finite("finetune.posLabelSum", f.PositiveLabelSum), finite("finetune.negLabelSum", f.NegativeLabelSum),
		within("finetune.ctrSum", f.LocalCTRSum, 0, math.MaxFloat64), within("finetune.seconds", f.Seconds, 0, math.MaxFloat64),
		f.LCFTLocal.validate("finetune.lcftLocal"), f.LCFTCloud.validate("finetune.lcftCloud"))
	return errors.Join(errs...)
}

// validate: counts and weights are non-negative, and since every
// difference d lies in [-1, 1], |sum n*d| and sum n*d² are at most the
// weight in fixed point (with a unit of rounding per user).
func (p PairedSums) validate(name string) error {
	errs := []error{nonNegative(name+".n", p.Users), nonNegative(name+".w", p.Weight), nonNegative(name+".w2", p.Weight2), nonNegative(name+".q", p.SumSq)}
	if p.Weight >= 0 && p.Users >= 0 {
		bound := float64(p.Weight)*PairedScale + float64(p.Users)
		if math.Abs(float64(p.Sum)) > bound || float64(p.SumSq) > bound {
			errs = append(errs, fmt.Errorf("%s: sums %d, %d exceed the weight %d", name, p.Sum, p.SumSq, p.Weight))
		}
	}
	return errors.Join(errs...)
}

// validate: a weight is a number of test samples (>= 0) and the sum a
// weighted sum of AUCs in [0, 1], so 0 <= sum <= weight (with rounding).
func (w WeightedAUC) validate(name string) error {
	if err := within(name+".w", w.Weight, 0, math.MaxFloat64); err != nil {
		return err
	}
	if !(w.Sum >= 0 && w.Sum <= w.Weight*(1+1e-9)) {
		return fmt.Errorf("%s: AUC sum %v is outside [0, weight %v]", name, w.Sum, w.Weight)
	}
	return nil
}

func (p *PretrainStats) validate() error {
	errs := []error{
		within("pretrain.globalCTR", p.GlobalCTR, 0, 1), within("pretrain.cloudAUC", p.CloudAUC, 0, 1),
		nonNegative("pretrain.users", p.Users), nonNegative("pretrain.samples", p.Samples),
		within("pretrain.seconds", p.Seconds, 0, math.MaxFloat64),
	}
	for i, q := range p.Quantiles {
		errs = append(errs, within(fmt.Sprintf("pretrain.quantiles[%d] quantile", i), q[0], 0, 1),
			within(fmt.Sprintf("pretrain.quantiles[%d] local CTR", i), q[1], 0, 1))
	}
	if d := p.Distill; d != nil {
		errs = append(errs, d.validate())
	}
	return errors.Join(errs...)
}

func (s *SearchStats) validate() error {
	errs := []error{
		within("search.g", s.GlobalCTR, 0, 1), within("search.holdout", s.HoldoutFraction, 0, MaxHoldoutFraction),
		within("search.seconds", s.Seconds, 0, math.MaxFloat64), nonNegative("search.skipped", s.SkippedUsers),
	}
	if s.Seeds < 0 || s.Seeds > MaxSearchSeeds {
		errs = append(errs, fmt.Errorf("search.seeds %d is outside [0, %d]", s.Seeds, MaxSearchSeeds))
	}
	if len(s.Groups) > MaxSearchGroups {
		errs = append(errs, fmt.Errorf("search has %d groups, more than %d", len(s.Groups), MaxSearchGroups))
	}
	for _, v := range append(slices.Clone(s.PositiveLabels), s.NegativeLabels...) {
		errs = append(errs, within("search label", v, -MaxLabelMagnitude, MaxLabelMagnitude))
	}
	for i, g := range s.Groups {
		at := fmt.Sprintf("search.groups[%d]", i)
		errs = append(errs, within(at+".min", g.Min, 0, 1), within(at+".max", g.Max, g.Min, 1), within(at+".rbar", g.MeanLocalCTR, 0, 1),
			nonNegative(at+".users", g.Users), nonNegative(at+".allUsers", g.AllUsers), nonNegative(at+".autoDiverged", g.AutoDiverged))
		for j, c := range g.Cells {
			cat := fmt.Sprintf("%s.cells[%d]", at, j)
			errs = append(errs, c.VsAuto.validate(cat+".vsAuto"), c.VsLocal.validate(cat+".vsLocal"), nonNegative(cat+".diverged", c.Diverged))
		}
	}
	return errors.Join(errs...)
}

func nonNegative(name string, v int64) error {
	if v < 0 {
		return fmt.Errorf("%s %d is negative", name, v)
	}
	return nil
}

func finite(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s %v is not finite", name, v)
	}
	return nil
}

// within refuses v outside [lo, hi] (and NaN).
func within(name string, v, lo, hi float64) error {
	if !(v >= lo && v <= hi) {
		return fmt.Errorf("%s %v is outside [%v, %v]", name, v, lo, hi)
	}
	return nil
}

package runspec

import (
	"errors"
	"fmt"
)

// Distill makes a pretraining run a MoMoDistill round (DCCL, Yao et al.,
// KDD 2021): the new global model is trained on the dataset's train split
// as any pretraining, except that the samples of users who have a teacher
// (a cohort's fine-tuned model of them) take the soft target
// Weight*p_teacher + (1-Weight)*label instead of the 0/1 label.
type Distill struct {
	// Predecessor is the global model the teachers were fine-tuned from:
	// every teacher applies to it, the run reads the dataset through its
	// vocabulary, and the new model is compared with it (overall and on
	// long-tail users). Its digest is required.
	Predecessor ModelArtifact `json:"predecessor"`
	// Init is where the new model starts: Predecessor (the default: its
	// parameters, trained further, DCCL's continual cloud model; Model must
	// then equal its architecture and sizes) or Fresh (a new initialisation
	// from Model and Optimization.Seed, with the predecessor's vocabulary).
	Init string `json:"init,omitempty"`
	// Weight of the teacher's probability in the target, in (0, 1].
	Weight float64 `json:"weight"`
	// Teachers, at least one. A user several teachers hold is taught by
	// the first of them in this order.
	Teachers []Teacher `json:"teachers"`
	// LongTailShare q in (0, 1] (0 means DefaultLongTailShare): the
	// long-tail users are the share q of evaluated test users with the
	// fewest train rows (ties broken by raw user id).
	LongTailShare float64 `json:"longTailShare,omitempty"`
}

// Values of Distill.Init.
const (
	DistillInitPredecessor = "Predecessor"
	DistillInitFresh       = "Fresh"
)

// DefaultLongTailShare is Distill.LongTailShare when unset: the half of
// the users with the fewest training rows.
const DefaultLongTailShare = 0.5

// MaxTeachers bounds Distill.Teachers.
const MaxTeachers = 64

// Teacher is one cohort's fine-tuned models: either the per-user deltas of
// a PerUser cohort (each file's users are taught by their own model) or
// the group model of a Pooled cohort (which teaches the users whose local
// CTR over their train rows is in Cohort's range, with at least
// Cohort.MinSamples train rows: the cohort's users).
type Teacher struct {
	// Name is the cohort's namespace/name, for messages.
	Name string `json:"name"`
	// UserModels are the cohort's user-models files (one per shard); a
	// digest, when set, is checked against the file's bytes, and each
	// file's header must name Predecessor's digest.
	UserModels []ModelArtifact `json:"userModels,omitempty"`
	// GroupModel is a Pooled cohort's group model; Cohort is then required.
	GroupModel *ModelArtifact `json:"groupModel,omitempty"`
	Cohort     *Cohort        `json:"cohort,omitempty"`
}

// Clone is a deep copy of d (nil for nil).
func (d *Distill) Clone() *Distill {
	if d == nil {
		return nil
	}
	c := *d
	c.Teachers = make([]Teacher, len(d.Teachers))
	for i, t := range d.Teachers {
		t.UserModels = append([]ModelArtifact(nil), t.UserModels...)
		if t.GroupModel != nil {
			g := *t.GroupModel
			t.GroupModel = &g
		}
		if t.Cohort != nil {
			co := *t.Cohort
			t.Cohort = &co
		}
		c.Teachers[i] = t
	}
	return &c
}

// URIs points at every artifact URI of d, the predecessor's first, for a
// caller that rewrites them (the controller mounts pvc:// URIs); nil for nil.
func (d *Distill) URIs() []*string {
	if d == nil {
		return nil
	}
	uris := []*string{&d.Predecessor.URI}
	for i := range d.Teachers {
		t := &d.Teachers[i]
		for j := range t.UserModels {
			uris = append(uris, &t.UserModels[j].URI)
		}
		if t.GroupModel != nil {
			uris = append(uris, &t.GroupModel.URI)
		}
	}
	return uris
}

// validateDistill checks a pretraining run's Distill.
func (s *Spec) validateDistill() error {
	d := s.Distill
	var errs []error
	if d.Predecessor.URI == "" || d.Predecessor.Digest == "" {
		errs = append(errs, errors.New("distill predecessor needs a URI and a digest"))
	}
	switch d.Init {
	case "", DistillInitPredecessor, DistillInitFresh:
	default:
		errs = append(errs, fmt.Errorf("distill init %q is not one of %s, %s", d.Init, DistillInitPredecessor, DistillInitFresh))
	}
	if !(d.Weight > 0 && d.Weight <= 1) {
		errs = append(errs, fmt.Errorf("distill weight %v is outside (0, 1]", d.Weight))
	}
	if !(d.LongTailShare >= 0 && d.LongTailShare <= 1) {
		errs = append(errs, fmt.Errorf("distill longTailShare %v is outside (0, 1] (0 means %g)", d.LongTailShare, DefaultLongTailShare))
	}
	if len(d.Teachers) == 0 || len(d.Teachers) > MaxTeachers {
		errs = append(errs, fmt.Errorf("distill needs 1 to %d teachers, got %d", MaxTeachers, len(d.Teachers)))
	}
	for i, t := range d.Teachers {
		name := fmt.Sprintf("distill teacher %d (%s)", i, t.Name)
		switch {
		case len(t.UserModels) > 0 && t.GroupModel != nil:
			errs = append(errs, fmt.Errorf("%s: userModels and groupModel are exclusive", name))
		case len(t.UserModels) == 0 && t.GroupModel == nil:
			errs = append(errs, fmt.Errorf("%s: needs userModels or a groupModel", name))
		case t.GroupModel != nil && t.Cohort == nil:
			errs = append(errs, fmt.Errorf("%s: a groupModel needs the cohort that selects its users", name))
		case t.GroupModel != nil && t.GroupModel.URI == "":
			errs = append(errs, fmt.Errorf("%s: groupModel needs a URI", name))
		}
		for j, u := range t.UserModels {
			if u.URI == "" {
				errs = append(errs, fmt.Errorf("%s: userModels %d needs a URI", name, j))
			}
		}
	}
	if s.Shards != 1 {
		errs = append(errs, fmt.Errorf("a distillation round runs as one shard, got %d", s.Shards))
	}
	return errors.Join(errs...)
}

// DistillStats describe a distillation round: what taught the new model,
// and the new model's Cloud AUC against its predecessor's on the same
// test split, paired user by user.
type DistillStats struct {
	PredecessorDigest string  `json:"predecessorDigest"`
	Weight            float64 `json:"weight"`
	// TaughtUsers and TaughtSamples had a teacher's soft targets;
	// RolledBackUsers were in a teacher's user-models file as rolled back
	// (no fine-tuned model) and kept their hard labels.
	TaughtUsers     int64 `json:"taughtUsers"`
	TaughtSamples   int64 `json:"taughtSamples"`
	RolledBackUsers int64 `json:"rolledBackUsers,omitempty"`
	// PredecessorAUC is the predecessor's user-level AUC on the test split.
	PredecessorAUC float64 `json:"predecessorAUC"`
	// Overall and LongTail are the new model's AUC minus the
	// predecessor's, size-weighted over users, with a 95% paired
	// bootstrap interval over users. LongTailMaxRows is the most train
	// rows a long-tail user has.
	Overall         Comparison `json:"overall"`
	LongTail        Comparison `json:"longTail"`
	LongTailShare   float64    `json:"longTailShare"`
	LongTailMaxRows int64      `json:"longTailMaxRows"`
}

// Comparison is the difference of two models' user-level AUC on a set of
// users (new minus old) and its 95% interval.
type Comparison struct {
	New   float64 `json:"new"`
	Old   float64 `json:"old"`
	Delta float64 `json:"delta"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Users int64   `json:"users"`
}

func (d *DistillStats) validate() error {
	errs := []error{
		within("distill.weight", d.Weight, 0, 1), within("distill.predecessorAUC", d.PredecessorAUC, 0, 1),
		within("distill.longTailShare", d.LongTailShare, 0, 1),
		nonNegative("distill.taughtUsers", d.TaughtUsers), nonNegative("distill.taughtSamples", d.TaughtSamples),
		nonNegative("distill.rolledBackUsers", d.RolledBackUsers), nonNegative("distill.longTailMaxRows", d.LongTailMaxRows),
		d.Overall.validate("distill.overall"), d.LongTail.validate("distill.longTail"),
	}
	return errors.Join(errs...)
}

func (c Comparison) validate(name string) error {
	return errors.Join(within(name+".new", c.New, 0, 1), within(name+".old", c.Old, 0, 1),
		within(name+".delta", c.Delta, -1, 1), within(name+".lo", c.Lo, -1, 1), within(name+".hi", c.Hi, -1, 1),
		nonNegative(name+".users", c.Users))
}

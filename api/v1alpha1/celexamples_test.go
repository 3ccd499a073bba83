package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// celExample is an object that breaks one CEL rule of a CRD.
type celExample struct {
	name string
	// The rule: kind, schema path (as in celRule) and a part of its message
	// that tells it from the other rules of the same node.
	kind, path, rule string
	// field is what the API server names in its refusal (spec.groups[0].ctrRange).
	field string
	// make builds the object; created, it must be refused.
	make func(ns string) client.Object
	// For transition rules (oldSelf) and status: before is created (it is
	// valid), then change edits it and the update must be refused.
	before func(ns string) client.Object
	change func(client.Object)
	status bool // the update goes through the status subresource
}

// celExamples holds at least one example per rule of the generated CRDs;
// TestEveryCELRuleHasARejectedExample fails when a rule has none, so a new
// rule must come with its example here.
func celExamples() []celExample {
	ex := []celExample{
		// GlobalModel.
		{name: "model with neither training nor import", kind: "GlobalModel", path: "spec", rule: "exactly one of training and import", field: "spec",
			make: func(ns string) client.Object { m := validModel(ns); m.Spec.Training = nil; return m }},
		{name: "training swapped for import", kind: "GlobalModel", path: "spec", rule: "cannot be swapped", field: "spec",
			before: func(ns string) client.Object { return validModel(ns) },
			change: func(o client.Object) {
				m := o.(*v1.GlobalModel)
				m.Spec.Training = nil
				m.Spec.Import = validImport()
			}},
		{name: "architecture changed", kind: "GlobalModel", path: "spec.architecture", rule: "architecture is immutable", field: "spec.architecture",
			before: func(ns string) client.Object { return validModel(ns) },
			change: func(o client.Object) { o.(*v1.GlobalModel).Spec.Architecture = v1.ArchitectureDeepFM }},
		{name: "hyperparameters changed", kind: "GlobalModel", path: "spec.hyperparameters", rule: "hyperparameters are immutable", field: "spec.hyperparameters",
			before: func(ns string) client.Object { return validModel(ns) },
			change: func(o client.Object) { o.(*v1.GlobalModel).Spec.Hyperparameters.EmbeddingDim = 8 }},
		{name: "training changed", kind: "GlobalModel", path: "spec.training", rule: "training is immutable", field: "spec.training",
			before: func(ns string) client.Object { return validModel(ns) },
			change: func(o client.Object) { o.(*v1.GlobalModel).Spec.Training.Epochs = 7 }},
		{name: "import changed", kind: "GlobalModel", path: "spec.import", rule: "import is immutable", field: "spec.import",
			before: func(ns string) client.Object { return importedModel(ns) },
			change: func(o client.Object) { o.(*v1.GlobalModel).Spec.Import.GlobalCTR = "0.4" }},
		{name: "import global CTR of one", kind: "GlobalModel", path: "spec.import.globalCTR", rule: "globalCTR must be in (0, 1)", field: "spec.import.globalCTR",
			make: func(ns string) client.Object { m := importedModel(ns); m.Spec.Import.GlobalCTR = "1"; return m }},
		{name: "pretraining learning rate above 10", kind: "GlobalModel", path: "spec.training.learningRate", rule: "learningRate must be in (0, 10]", field: "spec.training.learningRate",
			make: func(ns string) client.Object { m := validModel(ns); m.Spec.Training.LearningRate = "20"; return m }},
		{name: "pretraining learning rate decay zero", kind: "GlobalModel", path: "spec.training.learningRateDecay", rule: "learningRateDecay must be in (0, 1]", field: "spec.training.learningRateDecay",
			make: func(ns string) client.Object { m := validModel(ns); m.Spec.Training.LearningRateDecay = "0"; return m }},
		{name: "holdout fraction above 0.5", kind: "GlobalModel", path: "spec.training.holdoutFraction", rule: "holdoutFraction must be in [0, 0.5]", field: "spec.training.holdoutFraction",
			make: func(ns string) client.Object { m := validModel(ns); m.Spec.Training.HoldoutFraction = "0.6"; return m }},
		{name: "distillation weight zero", kind: "GlobalModel", path: "spec.training.distillFrom.weight", rule: "weight must be in (0, 1]", field: "spec.training.distillFrom.weight",
			make: func(ns string) client.Object {
				m := validModel(ns)
				m.Spec.Training.DistillFrom = &v1.DistillSpec{Cohorts: []string{"low"}, Weight: "0"}
				return m
			}},
		{name: "distillation long-tail share above one", kind: "GlobalModel", path: "spec.training.distillFrom.longTailShare", rule: "longTailShare must be in (0, 1]", field: "spec.training.distillFrom.longTailShare",
			make: func(ns string) client.Object {
				m := validModel(ns)
				m.Spec.Training.DistillFrom = &v1.DistillSpec{Cohorts: []string{"low"}, LongTailShare: "1.5"}
				return m
			}},
		{name: "embedding init std zero", kind: "GlobalModel", path: "spec.hyperparameters.embeddingInitStd", rule: "embeddingInitStd must be in (0, 1]", field: "spec.hyperparameters.embeddingInitStd",
			make: func(ns string) client.Object {
				m := validModel(ns)
				m.Spec.Hyperparameters.EmbeddingInitStd = "0"
				return m
			}},

		// FineTuneCohort.
		{name: "parallelism above shards", kind: "FineTuneCohort", path: "spec", rule: "parallelism must not exceed shards", field: "spec",
			make: func(ns string) client.Object {
				c := validCohort(ns)
				c.Spec.Shards, c.Spec.Parallelism = 2, ptr.To[int32](3)
				return c
			}},
		{name: "user deltas of a pooled cohort", kind: "FineTuneCohort", path: "spec", rule: "output.userModels Deltas needs mode PerUser", field: "spec",
			make: func(ns string) client.Object {
				c := validCohort(ns)
				c.Spec.Mode, c.Spec.Output = v1.ModePooled, &v1.OutputSpec{UserModels: v1.UserModelsDeltas}
				return c
			}},
		{name: "patch scope of a pooled cohort", kind: "FineTuneCohort", path: "spec", rule: "fineTuning.scope Patch needs mode PerUser", field: "spec",
			make: func(ns string) client.Object {
				c := validCohort(ns)
				c.Spec.Mode, c.Spec.FineTuning.Scope = v1.ModePooled, v1.ScopePatch
				return c
			}},
		{name: "fine-tuning learning rate above 10", kind: "FineTuneCohort", path: "spec.fineTuning.learningRate", rule: "learningRate must be in (0, 10]", field: "spec.fineTuning.learningRate",
			make: func(ns string) client.Object { c := validCohort(ns); c.Spec.FineTuning.LearningRate = "10.5"; return c }},
		{name: "fine-tuning learning rate decay above one", kind: "FineTuneCohort", path: "spec.fineTuning.learningRateDecay", rule: "learningRateDecay must be in (0, 1]", field: "spec.fineTuning.learningRateDecay",
			make: func(ns string) client.Object {
				c := validCohort(ns)
				c.Spec.FineTuning.LearningRateDecay = "1.5"
				return c
			}},

		// CorrectionPolicy.
		{name: "policy changed", kind: "CorrectionPolicy", path: "spec", rule: "a CorrectionPolicy is immutable", field: "spec",
			before: func(ns string) client.Object { return validPolicy(ns) },
			change: func(o client.Object) { o.(*v1.CorrectionPolicy).Spec.Strategy = v1.StrategySoftNegative }},
		{name: "hard without groups or search", kind: "CorrectionPolicy", path: "spec", rule: "strategy Hard needs exactly one of groups and search", field: "spec",
			make: func(ns string) client.Object { p := validPolicy(ns); p.Spec.Strategy = v1.StrategyHard; return p }},
		{name: "overlapping hard groups", kind: "CorrectionPolicy", path: "spec.groups", rule: "groups must not overlap", field: "spec.groups",
			make: func(ns string) client.Object {
				return hardPolicy(ns, hardGroup("0", "0.5"), hardGroup("0.4", "1"))
			}},
		{name: "group label beyond 100", kind: "CorrectionPolicy", path: "spec.groups[].positiveLabel", rule: "positiveLabel must be in [-100, 100]", field: "spec.groups[0].positiveLabel",
			make: func(ns string) client.Object {
				g := hardGroup("0", "1")
				g.PositiveLabel = "101"
				return hardPolicy(ns, g)
			}},
		{name: "group label below -100", kind: "CorrectionPolicy", path: "spec.groups[].negativeLabel", rule: "negativeLabel must be in [-100, 100]", field: "spec.groups[0].negativeLabel",
			make: func(ns string) client.Object {
				g := hardGroup("0", "1")
				g.NegativeLabel = "-1e3"
				return hardPolicy(ns, g)
			}},
		{name: "search with both boundaries and quantiles", kind: "CorrectionPolicy", path: "spec.search", rule: "exactly one of boundaries and quantiles", field: "spec.search",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.Quantiles = ptr.To[int32](3) })
			}},
		{name: "search boundary of one", kind: "CorrectionPolicy", path: "spec.search.boundaries", rule: "strictly inside (0, 1)", field: "spec.search.boundaries",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.Boundaries = []v1.Decimal{"0.3", "1"} })
			}},
		{name: "search boundaries repeated", kind: "CorrectionPolicy", path: "spec.search.boundaries", rule: "boundaries must be distinct", field: "spec.search.boundaries",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.Boundaries = []v1.Decimal{"0.3", "0.30"} })
			}},
		{name: "search positive label beyond 100", kind: "CorrectionPolicy", path: "spec.search.positiveLabels", rule: "positiveLabels must be in [-100, 100]", field: "spec.search.positiveLabels",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.PositiveLabels = []v1.SignedDecimal{"1", "250"} })
			}},
		{name: "search negative label below -100", kind: "CorrectionPolicy", path: "spec.search.negativeLabels", rule: "negativeLabels must be in [-100, 100]", field: "spec.search.negativeLabels",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.NegativeLabels = []v1.SignedDecimal{"0", "-250"} })
			}},
		{name: "search validation fraction zero", kind: "CorrectionPolicy", path: "spec.search.validationFraction", rule: "validationFraction must be in (0, 1)", field: "spec.search.validationFraction",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.ValidationFraction = "0" })
			}},
		{name: "search learning rate zero", kind: "CorrectionPolicy", path: "spec.search.fineTuning.learningRate", rule: "learningRate must be in (0, 10]", field: "spec.search.fineTuning.learningRate",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.FineTuning.LearningRate = "0" })
			}},
		{name: "search learning rate decay above one", kind: "CorrectionPolicy", path: "spec.search.fineTuning.learningRateDecay", rule: "learningRateDecay must be in (0, 1]", field: "spec.search.fineTuning.learningRateDecay",
			make: func(ns string) client.Object {
				return searchPolicy(ns, func(s *v1.LabelSearch) { s.FineTuning.LearningRateDecay = "2" })
			}},
	}
	ex = append(ex, ctrRangeExamples()...)
	ex = append(ex, datasetExamples()...)
	for _, pt := range podTemplateCases() {
		if pt.rule == "" {
			continue // not a CEL rule (an OpenAPI limit or pattern)
		}
		for _, k := range kindsWithPodTemplate() {
			mutate := pt.mutate
			ex = append(ex, celExample{
				name: k.kind + " " + pt.name, kind: k.kind, path: "spec.podTemplate." + pt.path, rule: pt.rule, field: "spec.podTemplate." + pt.path,
				make: func(ns string) client.Object {
					tmpl := validPodTemplate()
					mutate(tmpl)
					return k.with(ns, tmpl)
				},
			})
		}
	}
	return ex
}

// ctrRangeExamples break the rules of CTRRange wherever it is used.
func ctrRangeExamples() []celExample {
	sites := []struct {
		kind, path, field string
		status            bool
		build             func(ns string, r v1.CTRRange) client.Object
	}{
		{"FineTuneCohort", "spec.ctrRange", "spec.ctrRange", false, func(ns string, r v1.CTRRange) client.Object {
			c := validCohort(ns)
			c.Spec.CTRRange = &r
			return c
		}},
		{"CorrectionPolicy", "spec.groups[].ctrRange", "spec.groups[0].ctrRange", false, func(ns string, r v1.CTRRange) client.Object {
			return hardPolicy(ns, hardGroup(r.Min, r.Max))
		}},
		{"CorrectionPolicy", "status.groups[].ctrRange", "status.groups[0].ctrRange", true, func(ns string, _ v1.CTRRange) client.Object {
			return hardPolicy(ns, hardGroup("0", "1")) // status is written by the change (create ignores it)
		}},
	}
	bad := []struct {
		name, sub, rule string
		r               v1.CTRRange
	}{
		{"min above max", "", "ctrRange.min must be less than ctrRange.max", v1.CTRRange{Min: "0.6", Max: "0.3"}},
		{"min above one", ".min", "min must be in [0, 1]", v1.CTRRange{Min: "1.5", Max: "0.3"}},
		{"max above one", ".max", "max must be in [0, 1]", v1.CTRRange{Min: "0.2", Max: "1.3"}},
	}
	var out []celExample
	for _, s := range sites {
		for _, b := range bad {
			e := celExample{name: s.path + " " + b.name, kind: s.kind, path: s.path + b.sub, rule: b.rule, field: s.field + b.sub}
			build, r := s.build, b.r
			if !s.status {
				e.make = func(ns string) client.Object { return build(ns, r) }
			} else {
				e.status = true
				e.before = func(ns string) client.Object { return build(ns, r) }
				e.change = func(o client.Object) {
					o.(*v1.CorrectionPolicy).Status.Groups = []v1.ResolvedLabelGroup{{CTRRange: r, PositiveLabel: "1", NegativeLabel: "0"}}
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// datasetExamples break the rules of DatasetSpec wherever it is used.
func datasetExamples() []celExample {
	sites := []struct {
		kind, path string
		build      func(ns string, mutate func(*v1.DatasetSpec)) client.Object
	}{
		{"GlobalModel", "spec.training.dataset", func(ns string, mutate func(*v1.DatasetSpec)) client.Object {
			m := validModel(ns)
			mutate(&m.Spec.Training.Dataset)
			return m
		}},
		{"FineTuneCohort", "spec.dataset", func(ns string, mutate func(*v1.DatasetSpec)) client.Object {
			c := validCohort(ns)
			mutate(&c.Spec.Dataset)
			return c
		}},
		{"CorrectionPolicy", "spec.search.dataset", func(ns string, mutate func(*v1.DatasetSpec)) client.Object {
			return searchPolicy(ns, func(s *v1.LabelSearch) { mutate(&s.Dataset) })
		}},
	}
	synthetic := func(d *v1.DatasetSpec) *v1.SyntheticDataSpec {
		d.Format, d.URI = v1.DatasetSynthetic, ""
		d.Synthetic = &v1.SyntheticDataSpec{Users: 10, Items: 20, Categories: 3, SamplesPerUser: 10, GlobalCTR: "0.3", Drift: "0.5", Seed: 1}
		return d.Synthetic
	}
	bad := []struct {
		name, sub, rule string
		mutate          func(*v1.DatasetSpec)
	}{
		{"without uri", "", "uri is required unless format is Synthetic", func(d *v1.DatasetSpec) {
			d.Format, d.URI, d.Synthetic = v1.DatasetMovieLens, "", nil
		}},
		{"synthetic settings on MovieLens", "", "synthetic may only be set when format is Synthetic", func(d *v1.DatasetSpec) {
			s := *synthetic(d)
			d.Format, d.URI, d.Synthetic = v1.DatasetMovieLens, "file:///data/ml", &s
		}},
		{"timestamp split without timestamp", ".split", "split.timestamp is required", func(d *v1.DatasetSpec) {
			d.Split = v1.SplitSpec{Method: v1.SplitTimestamp}
		}},
		{"train fraction of one", ".split.trainFraction", "trainFraction must be in (0, 1)", func(d *v1.DatasetSpec) {
			d.Split = v1.SplitSpec{Method: v1.SplitPerUserFraction, TrainFraction: "1"}
		}},
		{"negatives on MovieLens", "", "negatives may only be set when format is Amazon or Implicit", func(d *v1.DatasetSpec) {
			d.Format, d.URI, d.Synthetic = v1.DatasetMovieLens, "file:///data/ml", nil
			d.Negatives = &v1.NegativeSampling{PerPositive: 4, Seed: 2}
		}},
		{"synthetic drift above one", ".synthetic.drift", "drift must be in [0, 1]", func(d *v1.DatasetSpec) { synthetic(d).Drift = "1.01" }},
		{"synthetic global CTR zero", ".synthetic.globalCTR", "globalCTR must be in (0, 1)", func(d *v1.DatasetSpec) { synthetic(d).GlobalCTR = "0" }},
	}
	var out []celExample
	for _, s := range sites {
		for _, b := range bad {
			build, mutate := s.build, b.mutate
			out = append(out, celExample{
				name: s.path + " " + b.name, kind: s.kind, path: s.path + b.sub, rule: b.rule, field: s.path + b.sub,
				make: func(ns string) client.Object { return build(ns, mutate) },
			})
		}
	}
	return out
}

type podTemplateKind struct {
	kind string
	with func(ns string, tmpl *v1.TrainerPodTemplate) client.Object
}

func kindsWithPodTemplate() []podTemplateKind {
	return []podTemplateKind{
		{"GlobalModel", func(ns string, tmpl *v1.TrainerPodTemplate) client.Object {
			m := validModel(ns)
			m.Spec.PodTemplate = tmpl
			return m
		}},
		{"FineTuneCohort", func(ns string, tmpl *v1.TrainerPodTemplate) client.Object {
			c := validCohort(ns)
			c.Spec.PodTemplate = tmpl
			return c
		}},
		{"CorrectionPolicy", func(ns string, tmpl *v1.TrainerPodTemplate) client.Object {
			p := validPolicy(ns)
			p.Spec.PodTemplate = tmpl
			return p
		}},
	}
}

func validImport() *v1.ModelImport {
	return &v1.ModelImport{ArtifactURI: "file:///m", Digest: "sha256:" + strings.Repeat("a", 64), GlobalCTR: "0.3"}
}

func importedModel(ns string) *v1.GlobalModel {
	m := validModel(ns)
	m.Spec.Training, m.Spec.Import = nil, validImport()
	return m
}

func hardPolicy(ns string, groups ...v1.LabelGroup) *v1.CorrectionPolicy {
	p := validPolicy(ns)
	p.Spec.Strategy, p.Spec.Groups = v1.StrategyHard, groups
	return p
}

// searchPolicy is a valid Hard policy with a search on two boundaries, edited by mutate.
func searchPolicy(ns string, mutate func(*v1.LabelSearch)) *v1.CorrectionPolicy {
	p := validPolicy(ns)
	p.Spec.Strategy = v1.StrategyHard
	p.Spec.Search = &v1.LabelSearch{
		GlobalModelRef: v1.ObjectReference{Name: "gm"},
		Dataset:        v1.DatasetSpec{Format: v1.DatasetMovieLens, URI: "file:///d"},
		Boundaries:     []v1.Decimal{"0.3", "0.6"},
	}
	mutate(p.Spec.Search)
	return p
}

// fieldCauses returns the causes of an Invalid error that name field.
func fieldCauses(err error, field string) []metav1.StatusCause {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var out []metav1.StatusCause
	for _, c := range status.Status().Details.Causes {
		if c.Field == field {
			out = append(out, c)
		}
	}
	return out
}

// TestEveryCELRuleHasARejectedExample enumerates the rules of the generated
// CRDs and fails when one has no example in celExamples; each example must
// be refused by the API server with that rule's message on its field.
func TestEveryCELRuleHasARejectedExample(t *testing.T) {
	rules := crdRules(t)
	examples := celExamples()
	covered := map[string]int{}
	ruleOf := make([]celRule, len(examples))
	for i, e := range examples {
		var match []celRule
		for _, r := range rules {
			if r.Kind == e.kind && r.Path == e.path && strings.Contains(r.Message, e.rule) {
				match = append(match, r)
			}
		}
		if len(match) != 1 {
			t.Errorf("example %q: want exactly one rule of %s at %s whose message contains %q, found %d", e.name, e.kind, e.path, e.rule, len(match))
			continue
		}
		ruleOf[i] = match[0]
		covered[match[0].String()]++
	}
	var missing []string
	for _, r := range rules {
		if covered[r.String()] == 0 {
			missing = append(missing, r.String())
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d CEL rules have no rejected example in celExamples (add one per new rule):\n  %s", len(missing), len(rules), strings.Join(missing, "\n  "))
	}
	t.Logf("%d CEL rules, %d examples", len(rules), len(examples))

	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	for i, e := range examples {
		rule := ruleOf[i]
		if rule.Kind == "" {
			continue // reported above
		}
		t.Run(e.name, func(t *testing.T) {
			err := e.run(ctx, ns)
			if err == nil {
				t.Fatalf("accepted; want the refusal %q on %s", rule.Message, e.field)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			var found bool
			for _, c := range fieldCauses(err, e.field) {
				found = found || strings.HasSuffix(c.Message, ": "+rule.Message)
			}
			if !found {
				t.Errorf("the refusal does not give %q on %s:\n%v", rule.Message, e.field, err)
			}
		})
	}
}

// run creates (or creates and updates) the example's object; it returns the
// API server's refusal, or nil when the object was accepted (and deletes it).
func (e celExample) run(ctx context.Context, ns string) error {
	if e.make != nil {
		obj := e.make(ns)
		obj.SetName("")
		obj.SetGenerateName("cel-")
		err := k8sClient.Create(ctx, obj)
		if err == nil {
			_ = k8sClient.Delete(ctx, obj)
		}
		return err
	}
	obj := e.before(ns)
	obj.SetName("")
	obj.SetGenerateName("cel-")
	if err := k8sClient.Create(ctx, obj); err != nil {
		return fmt.Errorf("the valid object before the change was refused: %w", err)
	}
	e.change(obj)
	if e.status {
		return k8sClient.Status().Update(ctx, obj)
	}
	return k8sClient.Update(ctx, obj)
}

// TestBadDecimalsGetOneMessage writes a value that is not a decimal ("abc")
// and one whose exponent would overflow a double ("1e999") into every
// decimal field that a CEL rule checks: the API server must refuse each with
// exactly one cause, the field's pattern, and no "type conversion error"
// from a rule that parsed the string anyway.
func TestBadDecimalsGetOneMessage(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	type decimalField struct {
		field string
		make  func(ns, bad string) client.Object
	}
	model := func(set func(*v1.GlobalModel, string)) func(string, string) client.Object {
		return func(ns, bad string) client.Object { m := validModel(ns); set(m, bad); return m }
	}
	cohort := func(set func(*v1.FineTuneCohort, string)) func(string, string) client.Object {
		return func(ns, bad string) client.Object {
			c := validCohort(ns)
			c.Spec.CTRRange = &v1.CTRRange{Min: "0", Max: "1"}
			set(c, bad)
			return c
		}
	}
	search := func(set func(*v1.LabelSearch, string)) func(string, string) client.Object {
		return func(ns, bad string) client.Object {
			return searchPolicy(ns, func(s *v1.LabelSearch) { set(s, bad) })
		}
	}
	group := func(set func(*v1.LabelGroup, string)) func(string, string) client.Object {
		return func(ns, bad string) client.Object {
			g := hardGroup("0.5", "1")
			set(&g, bad)
			return hardPolicy(ns, hardGroup("0", "0.5"), g)
		}
	}
	fields := []decimalField{
		{"spec.training.learningRate", model(func(m *v1.GlobalModel, b string) { m.Spec.Training.LearningRate = v1.Decimal(b) })},
		{"spec.training.learningRateDecay", model(func(m *v1.GlobalModel, b string) { m.Spec.Training.LearningRateDecay = v1.Decimal(b) })},
		{"spec.training.holdoutFraction", model(func(m *v1.GlobalModel, b string) { m.Spec.Training.HoldoutFraction = v1.Decimal(b) })},
		{"spec.training.distillFrom.weight", model(func(m *v1.GlobalModel, b string) {
			m.Spec.Training.DistillFrom = &v1.DistillSpec{Cohorts: []string{"low"}, Weight: v1.Decimal(b)}
		})},
		{"spec.training.distillFrom.longTailShare", model(func(m *v1.GlobalModel, b string) {
			m.Spec.Training.DistillFrom = &v1.DistillSpec{Cohorts: []string{"low"}, LongTailShare: v1.Decimal(b)}
		})},
		{"spec.hyperparameters.embeddingInitStd", model(func(m *v1.GlobalModel, b string) { m.Spec.Hyperparameters.EmbeddingInitStd = v1.Decimal(b) })},
		{"spec.training.dataset.synthetic.globalCTR", model(func(m *v1.GlobalModel, b string) { m.Spec.Training.Dataset.Synthetic.GlobalCTR = v1.Decimal(b) })},
		{"spec.training.dataset.synthetic.drift", model(func(m *v1.GlobalModel, b string) { m.Spec.Training.Dataset.Synthetic.Drift = v1.Decimal(b) })},
		{"spec.import.globalCTR", func(ns, bad string) client.Object {
			m := importedModel(ns)
			m.Spec.Import.GlobalCTR = v1.Decimal(bad)
			return m
		}},
		{"spec.fineTuning.learningRate", cohort(func(c *v1.FineTuneCohort, b string) { c.Spec.FineTuning.LearningRate = v1.Decimal(b) })},
		{"spec.fineTuning.learningRateDecay", cohort(func(c *v1.FineTuneCohort, b string) { c.Spec.FineTuning.LearningRateDecay = v1.Decimal(b) })},
		{"spec.dataset.split.trainFraction", cohort(func(c *v1.FineTuneCohort, b string) { c.Spec.Dataset.Split.TrainFraction = v1.Decimal(b) })},
		{"spec.ctrRange.min", cohort(func(c *v1.FineTuneCohort, b string) { c.Spec.CTRRange.Min = v1.Decimal(b) })},
		{"spec.ctrRange.max", cohort(func(c *v1.FineTuneCohort, b string) { c.Spec.CTRRange.Max = v1.Decimal(b) })},
		{"spec.groups[1].ctrRange.min", group(func(g *v1.LabelGroup, b string) { g.CTRRange.Min = v1.Decimal(b) })},
		{"spec.groups[1].ctrRange.max", group(func(g *v1.LabelGroup, b string) { g.CTRRange.Max = v1.Decimal(b) })},
		{"spec.groups[1].positiveLabel", group(func(g *v1.LabelGroup, b string) { g.PositiveLabel = v1.SignedDecimal(b) })},
		{"spec.groups[1].negativeLabel", group(func(g *v1.LabelGroup, b string) { g.NegativeLabel = v1.SignedDecimal(b) })},
		{"spec.search.boundaries[1]", search(func(s *v1.LabelSearch, b string) { s.Boundaries[1] = v1.Decimal(b) })},
		{"spec.search.positiveLabels[1]", search(func(s *v1.LabelSearch, b string) { s.PositiveLabels = []v1.SignedDecimal{"1", v1.SignedDecimal(b)} })},
		{"spec.search.negativeLabels[1]", search(func(s *v1.LabelSearch, b string) { s.NegativeLabels = []v1.SignedDecimal{"0", v1.SignedDecimal(b)} })},
		{"spec.search.validationFraction", search(func(s *v1.LabelSearch, b string) { s.ValidationFraction = v1.Decimal(b) })},
		{"spec.search.dataset.split.trainFraction", search(func(s *v1.LabelSearch, b string) { s.Dataset.Split.TrainFraction = v1.Decimal(b) })},
	}
	for _, f := range fields {
		for _, bad := range []string{"abc", "1e999"} {
			t.Run(f.field+"="+bad, func(t *testing.T) {
				ex := celExample{make: func(ns string) client.Object { return f.make(ns, bad) }}
				err := ex.run(ctx, ns)
				if err == nil {
					t.Fatalf("%s=%q was accepted", f.field, bad)
				}
				var status apierrors.APIStatus
				if !errors.As(err, &status) || status.Status().Details == nil {
					t.Fatalf("want an Invalid error with causes, got %v", err)
				}
				causes := status.Status().Details.Causes
				if len(causes) != 1 || causes[0].Field != f.field {
					t.Fatalf("want exactly one cause, on %s; got %d:\n%v", f.field, len(causes), err)
				}
				if strings.Contains(err.Error(), "conversion") || !strings.Contains(causes[0].Message, "should match") {
					t.Errorf("want the pattern's message alone, got %q", causes[0].Message)
				}
				t.Logf("%s=%q: %s", f.field, bad, causes[0].Message)
			})
		}
	}
}

package v1alpha1_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// celRule is one x-kubernetes-validations rule of a generated CRD.
type celRule struct {
	Kind string
	// Path of the schema node that carries the rule: spec.groups[].ctrRange
	// ([] stands for the items of a list).
	Path    string
	Rule    string
	Message string
}

func (r celRule) String() string { return r.Kind + " " + r.Path + ": " + r.Message }

// crdRules reads every rule of the CRDs in config/crd/bases, the files the
// API server (and the chart) install.
func crdRules(t *testing.T) []celRule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (run `make manifests`): %v", err)
	}
	var rules []celRule
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(raw, crd); err != nil {
			t.Fatalf("decoding %s: %v", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			rules = schemaRules(rules, crd.Spec.Names.Kind, "", v.Schema.OpenAPIV3Schema)
		}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].String() < rules[j].String() })
	return rules
}

func schemaRules(out []celRule, kind, path string, s *apiextensionsv1.JSONSchemaProps) []celRule {
	for _, v := range s.XValidations {
		out = append(out, celRule{Kind: kind, Path: path, Rule: v.Rule, Message: v.Message})
	}
	for name, p := range s.Properties {
		child := name
		if path != "" {
			child = path + "." + name
		}
		out = schemaRules(out, kind, child, &p)
	}
	if s.Items != nil && s.Items.Schema != nil {
		out = schemaRules(out, kind, path+"[]", s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		out = schemaRules(out, kind, path+"{}", s.AdditionalProperties.Schema)
	}
	return out
}

// The CRDs' patterns of Decimal and SignedDecimal.
const (
	decimalPattern       = `^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$`
	signedDecimalPattern = `^-?([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$`
)

// TestDecimalRulesAreGuarded reads the generated CRDs: a rule that parses a
// string with double() must first check the string against the Decimal (or
// SignedDecimal) pattern, so that a value the pattern refuses gets one
// message (the pattern's), not a second "type conversion error". The
// envtest TestBadDecimalsGetOneMessage shows the effect on the API server.
func TestDecimalRulesAreGuarded(t *testing.T) {
	rules := crdRules(t)
	guarded := 0
	for _, r := range rules {
		if !strings.Contains(r.Rule, "double(") {
			continue
		}
		guarded++
		if !strings.Contains(r.Rule, ".matches('"+decimalPattern+"')") && !strings.Contains(r.Rule, ".matches('"+signedDecimalPattern+"')") {
			t.Errorf("%s: the rule parses decimals with double() without the pattern guard `!x.matches('<pattern>') ||`:\n%s", r, r.Rule)
		}
	}
	if guarded == 0 {
		t.Fatal("no rule calls double(): the CRDs are not the ones this test knows")
	}
	t.Logf("%d rules parse decimals, all guarded", guarded)
}

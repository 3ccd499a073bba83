package charttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/lcft-dev/lcft-operator/internal/testassets"
)

const (
	// releaseName makes the chart's full name "lcft-operator", the names of
	// config/ (a release name containing the chart name is used as is).
	releaseName = "lcft-operator"
	namespace   = "lcft-system"
	// kubeVersion is what the envtest API server reports; helm template
	// checks the chart's kubeVersion constraint against it.
	kubeVersion = "1.37.2"
)

// repoRoot is the directory of the main module's go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(raw, []byte("module github.com/lcft-dev/lcft-operator\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (go.mod of github.com/lcft-dev/lcft-operator)")
		}
		dir = parent
	}
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "lcft-operator") }

// helmBinary is $HELM (absolute, or relative to the repository root); the
// test fails when it is unset or not there (skips under -short).
func helmBinary(t testing.TB) string {
	t.Helper()
	return testassets.Helm(t, repoRoot(t))
}

// helmResult is one helm run.
type helmResult struct {
	stdout, stderr string
	err            error
}

// runHelm runs helm with its config, cache and data in a fresh directory
// (never the user's), and without a kubeconfig unless args name one.
func runHelm(t testing.TB, args ...string) helmResult {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
		"HELM_NO_PLUGINS=1",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return helmResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustHelm runs helm and fails the test when it fails.
func mustHelm(t testing.TB, args ...string) string {
	t.Helper()
	r := runHelm(t, args...)
	if r.err != nil {
		t.Fatalf("helm %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// rendered is the output of helm template, split into objects.
type rendered struct {
	docs []renderedDoc
}

type renderedDoc struct {
	source string // the "# Source:" comment helm writes
	raw    []byte
	obj    *unstructured.Unstructured
}

// render runs helm template with the release name and namespace of the
// tests, and extra args (--set, -f).
func render(t testing.TB, args ...string) *rendered {
	t.Helper()
	all := append([]string{"template", releaseName, chartDir(t),
		"--namespace", namespace, "--kube-version", kubeVersion}, args...)
	out := mustHelm(t, all...)
	r, err := splitDocs(out)
	if err != nil {
		t.Fatalf("parsing helm template output: %v\n%s", err, out)
	}
	return r
}

func splitDocs(out string) (*rendered, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	r := &rendered{}
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return nil, err
		}
		var source string
		for _, line := range strings.Split(string(doc), "\n") {
			if s, ok := strings.CutPrefix(line, "# Source: "); ok {
				source = s
			}
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if len(m) == 0 {
			continue
		}
		r.docs = append(r.docs, renderedDoc{source: source, raw: doc, obj: &unstructured.Unstructured{Object: m}})
	}
}

// find returns the documents of kind (and name, when not empty).
func (r *rendered) find(kind, name string) []renderedDoc {
	var docs []renderedDoc
	for _, d := range r.docs {
		if d.obj.GetKind() == kind && (name == "" || d.obj.GetName() == name) {
			docs = append(docs, d)
		}
	}
	return docs
}

// one decodes the single object of kind and name into out, strictly: a field
// that the Kubernetes type does not have (a typo in a template) fails.
func (r *rendered) one(t testing.TB, kind, name string, out any) {
	t.Helper()
	docs := r.find(kind, name)
	if len(docs) != 1 {
		t.Fatalf("want exactly one %s %q, got %d (rendered: %s)", kind, name, len(docs), r.summary())
	}
	if err := yaml.UnmarshalStrict(docs[0].raw, out); err != nil {
		t.Fatalf("%s %s (%s) does not decode strictly: %v", kind, name, docs[0].source, err)
	}
}

func (r *rendered) summary() string {
	var s []string
	for _, d := range r.docs {
		s = append(s, d.obj.GetKind()+"/"+d.obj.GetName())
	}
	return strings.Join(s, ", ")
}

func (r *rendered) deployment(t testing.TB) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	r.one(t, "Deployment", releaseName, &d)
	return &d
}

// manager returns the manager container of the Deployment.
func manager(t testing.TB, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "manager" {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container named manager", d.Name)
	return nil
}

// flagValues maps each --flag of args to its values ("true" for a bare flag).
func flagValues(args []string) map[string][]string {
	flags := map[string][]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			value = "true"
		}
		flags[name] = append(flags[name], value)
	}
	return flags
}

// readClusterRole decodes a ClusterRole file of the repository.
func readClusterRole(t testing.TB, rel string) *rbacv1.ClusterRole {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(raw, &role); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return &role
}

// chartAppVersion reads appVersion from Chart.yaml.
func chartAppVersion(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion  string `json:"appVersion"`
		KubeVersion string `json:"kubeVersion"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}

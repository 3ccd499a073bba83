package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/internal/testassets"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// The tests run the commands against a real kube-apiserver and etcd
// (envtest) through a kubeconfig file, as kubectl would run the plugin.

var (
	k8sClient  client.Client
	restConfig *rest.Config
	kubeconfig string
	testEnv    *envtest.Environment
	// envErr says why envtest did not start; needEnv fails (or, under
	// -short, skips) the envtest tests with it.
	envErr error
)

// testNow is the clock of the tables' ages.
var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	if _, envErr = testassets.EnvtestDir(); envErr != nil {
		os.Exit(m.Run()) // the tests that need no API server still run
	}
	os.Exit(runWithEnvtest(m))
}

func runWithEnvtest(m *testing.M) int {
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	restConfig = cfg
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = finetunev1alpha1.AddToScheme(scheme)
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	user, err := testEnv.AddUser(envtest.User{Name: "plugin-user", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "adding a user:", err)
		return 1
	}
	kc, err := user.KubeConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-lcft-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func needEnv(t *testing.T) {
	t.Helper()
	if k8sClient == nil {
		testassets.Require(t, envErr)
	}
}

// run runs kubectl-lcft with args against envtest, in namespace ns.
func run(t *testing.T, ns string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(&options{stdout: &out, stderr: &errOut, now: func() time.Time { return testNow }})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...))
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lcft-plugin-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	return ns.Name
}

// cohortObject is a valid FineTuneCohort with shards shards.
func cohortObject(ns, name string, shards int32) *finetunev1alpha1.FineTuneCohort {
	return &finetunev1alpha1.FineTuneCohort{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: finetunev1alpha1.FineTuneCohortSpec{
			GlobalModelRef: finetunev1alpha1.ObjectReference{Name: "gm"},
			Dataset:        finetunev1alpha1.DatasetSpec{Format: finetunev1alpha1.DatasetMovieLens, URI: "file:///data/ml"},
			Shards:         shards,
		},
	}
}

// user is one per-user row of a fixture report.
type user struct {
	id                 string
	ctr                float64
	test               int
	cloud, local, lcft float64
}

// writeReport writes one fine-tuning shard report per element of shards
// (the rows of that shard) under dir, as the trainer writes them, and
// returns dir's file:// URI.
func writeReport(t *testing.T, dir, strategy string, shards [][]user) string {
	t.Helper()
	uri := "file://" + dir
	for i, rows := range shards {
		r := &runner.Report{
			Name: fmt.Sprintf("shard %d", i), Shard: i, Shards: len(shards), Architecture: "WideDeep",
			ModelDigest: "sha256:aa", Strategy: strategy, Mode: runner.ModePerUser, GlobalCTR: 0.3,
			Optimization: runspec.Optimization{Optimizer: runner.OptimizerSGD, LearningRate: 0.01, Epochs: 1, BatchSize: 32, Seed: 7},
		}
		for _, u := range rows {
			r.Users = append(r.Users, runner.UserRow{
				User: u.id, LocalCTR: u.ctr, Train: 20, Test: u.test, Positive: 1, Negative: 0,
				Cloud: runner.Float(u.cloud), Local: runner.Float(u.local), LCFT: runner.Float(u.lcft),
			})
		}
		if err := r.Summarize(200); err != nil {
			t.Fatalf("summarising shard %d: %v", i, err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteAll(context.Background(), storage.Join(uri, runner.ReportFile(i)), b); err != nil {
			t.Fatalf("writing shard %d: %v", i, err)
		}
	}
	return uri
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

package v1alpha1_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/internal/testassets"
)

// The tests of this file run against a real kube-apiserver and etcd
// (envtest): the CRDs' OpenAPI schemas, defaults and CEL rules are the API
// server's to enforce, so only the API server can test them.

var (
	k8sClient client.Client
	testEnv   *envtest.Environment
	// envErr says why envtest did not start; needEnv fails (or, under
	// -short, skips) the envtest tests with it.
	envErr error
)

func TestMain(m *testing.M) {
	if _, envErr = testassets.EnvtestDir(); envErr != nil {
		// The tests that need no API server still run.
		os.Exit(m.Run())
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		os.Stderr.WriteString("starting envtest: " + err.Error() + "\n")
		os.Exit(1)
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		os.Stderr.WriteString("client: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	_ = testEnv.Stop()
	os.Exit(code)
}

func needEnv(t *testing.T) {
	t.Helper()
	if k8sClient == nil {
		testassets.Require(t, envErr)
	}
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "validation-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// Builders of valid objects; each invalid case breaks one thing.

func validModel(ns string) *v1.GlobalModel {
	return &v1.GlobalModel{
		ObjectMeta: metav1.ObjectMeta{Name: "gm", Namespace: ns},
		Spec: v1.GlobalModelSpec{
			Architecture: v1.ArchitectureWideDeep,
			Training: &v1.PretrainingSpec{Dataset: v1.DatasetSpec{
				Format:    v1.DatasetSynthetic,
				Synthetic: &v1.SyntheticDataSpec{Users: 10, Items: 20, Categories: 3, SamplesPerUser: 10, GlobalCTR: "0.3", Drift: "0.5", Seed: 1},
			}},
		},
	}
}

func validPolicy(ns string) *v1.CorrectionPolicy {
	return &v1.CorrectionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "pol", Namespace: ns},
		Spec:       v1.CorrectionPolicySpec{Strategy: v1.StrategyAuto},
	}
}

func validCohort(ns string) *v1.FineTuneCohort {
	return &v1.FineTuneCohort{
		ObjectMeta: metav1.ObjectMeta{Name: "ftc", Namespace: ns},
		Spec: v1.FineTuneCohortSpec{
			GlobalModelRef: v1.ObjectReference{Name: "gm"},
			Dataset:        v1.DatasetSpec{Format: v1.DatasetMovieLens, URI: "file:///data/ml"},
		},
	}
}

// validSearch is a Hard search policy with change applied to its search.
func validSearch(ns string, change func(*v1.LabelSearch)) *v1.CorrectionPolicy {
	p := validPolicy(ns)
	p.Spec.Strategy = v1.StrategyHard
	p.Spec.Search = &v1.LabelSearch{
		GlobalModelRef: v1.ObjectReference{Name: "gm"},
		Dataset:        v1.DatasetSpec{Format: v1.DatasetMovieLens, URI: "file:///d"},
		Quantiles:      ptr.To[int32](3),
	}
	change(p.Spec.Search)
	return p
}

func hardGroup(lo, hi v1.Decimal) v1.LabelGroup {
	return v1.LabelGroup{CTRRange: v1.CTRRange{Min: lo, Max: hi}, PositiveLabel: "1", NegativeLabel: "0.2"}
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	cases := []struct {
		name string
		obj  client.Object
		// field must appear in the API server's message.
		field string
	}{
		{"model with neither training nor import", func() client.Object { m := validModel(ns); m.Spec.Training = nil; return m }(), "exactly one of training and import"},
		{"model with both training and import", func() client.Object {
			m := validModel(ns)
			m.Spec.Import = &v1.ModelImport{ArtifactURI: "file:///m", Digest: "sha256:" + strings.Repeat("a", 64), GlobalCTR: "0.3"}
			return m
		}(), "exactly one of training and import"},
		{"unknown architecture", func() client.Object { m := validModel(ns); m.Spec.Architecture = "Transformer"; return m }(), "spec.architecture"},
		{"learning rate zero", func() client.Object { m := validModel(ns); m.Spec.Training.LearningRate = "0"; return m }(), "spec.training.learningRate"},
		{"learning rate not a number", func() client.Object { m := validModel(ns); m.Spec.Training.LearningRate = "fast"; return m }(), "spec.training.learningRate"},
		{"learning rate decay above one", func() client.Object { m := validModel(ns); m.Spec.Training.LearningRateDecay = "1.5"; return m }(), "spec.training.learningRateDecay"},
		{"synthetic global CTR of one", func() client.Object { m := validModel(ns); m.Spec.Training.Dataset.Synthetic.GlobalCTR = "1"; return m }(), "spec.training.dataset.synthetic.globalCTR"},
		{"import digest not sha256", func() client.Object {
			m := validModel(ns)
			m.Spec.Training = nil
			m.Spec.Import = &v1.ModelImport{ArtifactURI: "file:///m", Digest: "md5:abc", GlobalCTR: "0.3"}
			return m
		}(), "spec.import.digest"},
		{"embedding dim zero", func() client.Object { m := validModel(ns); m.Spec.Hyperparameters.EmbeddingDim = -1; return m }(), "spec.hyperparameters.embeddingDim"},
		{"dataset without uri", func() client.Object { c := validCohort(ns); c.Spec.Dataset.URI = ""; return c }(), "spec.dataset"},
		{"dataset uri with unknown scheme", func() client.Object { c := validCohort(ns); c.Spec.Dataset.URI = "ftp://host/data"; return c }(), "spec.dataset.uri"},
		{"ctrRange min above max", func() client.Object {
			c := validCohort(ns)
			c.Spec.CTRRange = &v1.CTRRange{Min: "0.6", Max: "0.3"}
			return c
		}(), "spec.ctrRange"},
		{"ctrRange max above one", func() client.Object {
			c := validCohort(ns)
			c.Spec.CTRRange = &v1.CTRRange{Min: "0.2", Max: "1.3"}
			return c
		}(), "spec.ctrRange.max"},
		{"shards zero", func() client.Object { c := validCohort(ns); c.Spec.Shards = -2; return c }(), "spec.shards"},
		{"parallelism above shards", func() client.Object {
			c := validCohort(ns)
			c.Spec.Shards = 2
			c.Spec.Parallelism = ptr.To[int32](3)
			return c
		}(), "parallelism must not exceed shards"},
		{"unknown mode", func() client.Object { c := validCohort(ns); c.Spec.Mode = "Federated"; return c }(), "spec.mode"},
		{"unknown pool", func() client.Object { c := validCohort(ns); c.Spec.Placement.Pool = "riscv64"; return c }(), "spec.placement.pool"},
		{"fine-tuning learning rate negative", func() client.Object { c := validCohort(ns); c.Spec.FineTuning.LearningRate = "-0.1"; return c }(), "spec.fineTuning.learningRate"},
		{"user deltas of a pooled cohort", func() client.Object {
			c := validCohort(ns)
			c.Spec.Mode = v1.ModePooled
			c.Spec.Output = &v1.OutputSpec{UserModels: v1.UserModelsDeltas}
			return c
		}(), "output.userModels Deltas needs mode PerUser"},
		{"unknown fine-tuning scope", func() client.Object { c := validCohort(ns); c.Spec.FineTuning.Scope = "Dense"; return c }(), "spec.fineTuning.scope"},
		{"fine-tuning learning rate above 10", func() client.Object { c := validCohort(ns); c.Spec.FineTuning.LearningRate = "10.5"; return c }(), "learningRate must be in (0, 10]"},
		{"pretraining learning rate above 10", func() client.Object { m := validModel(ns); m.Spec.Training.LearningRate = "20"; return m }(), "spec.training.learningRate"},
		{"missing model reference", func() client.Object { c := validCohort(ns); c.Spec.GlobalModelRef.Name = ""; return c }(), "spec.globalModelRef.name"},
		{"timestamp split without timestamp", func() client.Object {
			c := validCohort(ns)
			c.Spec.Dataset.Split = v1.SplitSpec{Method: v1.SplitTimestamp}
			return c
		}(), "split.timestamp is required"},
		{"unknown strategy", func() client.Object { p := validPolicy(ns); p.Spec.Strategy = "Magic"; return p }(), "spec.strategy"},
		{"hard without groups or search", func() client.Object { p := validPolicy(ns); p.Spec.Strategy = v1.StrategyHard; return p }(), "strategy Hard needs exactly one of groups and search"},
		{"auto with groups", func() client.Object {
			p := validPolicy(ns)
			p.Spec.Groups = []v1.LabelGroup{hardGroup("0", "0.5")}
			return p
		}(), "other strategies take neither"},
		{"overlapping hard groups", func() client.Object {
			p := validPolicy(ns)
			p.Spec.Strategy = v1.StrategyHard
			p.Spec.Groups = []v1.LabelGroup{hardGroup("0", "0.5"), hardGroup("0.4", "1")}
			return p
		}(), "spec.groups: Invalid value"},
		{"duplicated hard groups", func() client.Object {
			p := validPolicy(ns)
			p.Spec.Strategy = v1.StrategyHard
			p.Spec.Groups = []v1.LabelGroup{hardGroup("0", "0.5"), hardGroup("0", "0.5")}
			return p
		}(), "groups must not overlap"},
		{"holdout fraction above 0.5", func() client.Object { m := validModel(ns); m.Spec.Training.HoldoutFraction = "0.6"; return m }(), "holdoutFraction must be in [0, 0.5]"},
		{"holdout fraction not a number", func() client.Object { m := validModel(ns); m.Spec.Training.HoldoutFraction = "a fifth"; return m }(), "spec.training.holdoutFraction"},
		{"embedding init std zero", func() client.Object { m := validModel(ns); m.Spec.Hyperparameters.EmbeddingInitStd = "0"; return m }(), "embeddingInitStd must be in (0, 1]"},
		{"unknown test histories", func() client.Object { c := validCohort(ns); c.Spec.Dataset.TestHistories = "AllRows"; return c }(), "spec.dataset.testHistories"},
		{"repeated search seeds", validSearch(ns, func(s *v1.LabelSearch) { s.Seeds = []int64{1, 2, 1} }), "spec.search.seeds"},
		{"six search seeds", validSearch(ns, func(s *v1.LabelSearch) { s.Seeds = []int64{1, 2, 3, 4, 5, 6} }), "spec.search.seeds"},
		{"search shards below one", validSearch(ns, func(s *v1.LabelSearch) { s.Shards = -1 }), "spec.search.shards"},
		{"search shards above 1000", validSearch(ns, func(s *v1.LabelSearch) { s.Shards = 1001 }), "spec.search.shards"},
		{"search quantiles above 6", validSearch(ns, func(s *v1.LabelSearch) { s.Quantiles = ptr.To[int32](7) }), "spec.search.quantiles"},
	}
	// The CEL rules have their examples in celExamples (one per rule at least).
	if n := len(cases) + len(celExamples()); n < 15 {
		t.Fatalf("the issue asks for at least 15 invalid objects, have %d", n)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8sClient.Create(context.Background(), tc.obj)
			if err == nil {
				_ = k8sClient.Delete(context.Background(), tc.obj)
				t.Fatalf("%s was accepted; want rejection naming %q", tc.name, tc.field)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			t.Logf("rejected %q: %v", tc.name, err)
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message does not name %q:\n%v", tc.field, err)
			}
		})
	}
}

func TestImmutableFields(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)

	gm := validModel(ns)
	if err := k8sClient.Create(ctx, gm); err != nil {
		t.Fatalf("creating model: %v", err)
	}
	gm.Spec.Architecture = v1.ArchitectureDeepFM
	err := k8sClient.Update(ctx, gm)
	if err == nil || !strings.Contains(err.Error(), "architecture is immutable") {
		t.Fatalf("changing the architecture: want 'architecture is immutable', got %v", err)
	}
	t.Logf("rejected architecture change: %v", err)

	pol := validPolicy(ns)
	if err := k8sClient.Create(ctx, pol); err != nil {
		t.Fatalf("creating policy: %v", err)
	}
	pol.Spec.Strategy = v1.StrategySoftNegative
	err = k8sClient.Update(ctx, pol)
	if err == nil || !strings.Contains(err.Error(), "CorrectionPolicy is immutable") {
		t.Fatalf("changing the strategy: want immutability error, got %v", err)
	}

	// A cohort's spec may change: that starts a new run.
	c := validCohort(ns)
	if err := k8sClient.Create(ctx, c); err != nil {
		t.Fatalf("creating cohort: %v", err)
	}
	c.Spec.FineTuning.LearningRate = "0.1"
	if err := k8sClient.Update(ctx, c); err != nil {
		t.Fatalf("changing a cohort's learning rate should be allowed: %v", err)
	}
}

func TestDefaultsAreApplied(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	c := validCohort(ns)
	if err := k8sClient.Create(ctx, c); err != nil {
		t.Fatalf("creating cohort: %v", err)
	}
	got := &v1.FineTuneCohort{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(c), got); err != nil {
		t.Fatalf("reading cohort: %v", err)
	}
	want := v1.FineTuneCohortSpec{
		GlobalModelRef: v1.ObjectReference{Name: "gm"},
		Dataset: v1.DatasetSpec{
			Format: v1.DatasetMovieLens, URI: "file:///data/ml", PositiveThreshold: "4",
			Split:         v1.SplitSpec{Method: v1.SplitPerUserFraction, TrainFraction: "0.8"},
			TestHistories: v1.TestHistoriesEarlierRows,
		},
		MinSamples: 5,
		Mode:       v1.ModePerUser,
		FineTuning: v1.FineTuningSpec{Optimizer: v1.OptimizerSGD, LearningRate: "0.01", LearningRateDecay: "1", Epochs: 1, BatchSize: 32, Seed: 1, Scope: v1.ScopeAll},
		Shards:     1,
		Placement:  v1.Placement{Pool: v1.PoolAny},
		RunPolicy:  v1.RunPolicy{BackoffLimit: ptr.To[int32](2)},
	}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("cohort defaults (-want +got):\n%s", diff)
	}

	gm := validModel(ns)
	if err := k8sClient.Create(ctx, gm); err != nil {
		t.Fatalf("creating model: %v", err)
	}
	gotModel := &v1.GlobalModel{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(gm), gotModel); err != nil {
		t.Fatalf("reading model: %v", err)
	}
	wantHP := v1.Hyperparameters{EmbeddingDim: 16, HiddenUnits: []int32{64, 32}, HistoryLength: 20, EmbeddingInitStd: "0.05"}
	if diff := cmp.Diff(wantHP, gotModel.Spec.Hyperparameters); diff != "" {
		t.Errorf("model hyperparameter defaults (-want +got):\n%s", diff)
	}
	tr := gotModel.Spec.Training
	gotTraining := []string{string(tr.Optimizer), string(tr.LearningRate), string(tr.LearningRateDecay)}
	if diff := cmp.Diff([]string{"SGD", "1.0", "0.1"}, gotTraining); diff != "" || tr.Epochs != 2 || tr.BatchSize != 32 {
		t.Errorf("pretraining defaults are not the paper's (SGD, lr 1.0, decay 0.1, 2 epochs, batch 32): %+v", tr)
	}
}

func TestSamplesAreAccepted(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	// Samples the demo applies only with their data (config/samples/movielens;
	// config/samples/kueue holds Kueue's kinds, not installed here).
	more, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "movielens", "*.yaml"))
	if err != nil || len(more) == 0 {
		t.Fatalf("no samples found in config/samples/movielens: %v", err)
	}
	files = append(files, more...)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(raw), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			u.SetNamespace(ns)
			if err := k8sClient.Create(ctx, u); err != nil {
				t.Errorf("%s: sample %s/%s rejected: %v", filepath.Base(f), u.GetKind(), u.GetName(), err)
				continue
			}
			t.Logf("accepted %s %s", u.GetKind(), u.GetName())
		}
	}
}

// TestImplicitFormatsAreAccepted: a GlobalModel can pretrain on the
// implicit-feedback formats the trainer reads (Amazon, Implicit), with or
// without negative-sampling settings, and the API server refuses a bad
// one: negatives out of range, negatives on a format that has none, an
// Amazon dataset without its directory.
func TestImplicitFormatsAreAccepted(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	model := func(name string, format v1.DatasetFormat, uri string, neg *v1.NegativeSampling) *v1.GlobalModel {
		m := validModel(ns)
		m.Name = name
		m.Spec.Training.Dataset = v1.DatasetSpec{Format: format, URI: uri, Negatives: neg}
		return m
	}
	good := []*v1.GlobalModel{
		model("amazon", v1.DatasetAmazon, "s3://data/amazon-electronics", &v1.NegativeSampling{PerPositive: 4, Seed: 7}),
		model("amazon-defaults", v1.DatasetAmazon, "pvc://datasets/amazon", nil),
		model("implicit", v1.DatasetImplicit, "file:///data/log.parquet", &v1.NegativeSampling{}),
	}
	for _, m := range good {
		if err := k8sClient.Create(ctx, m); err != nil {
			t.Errorf("%s rejected: %v", m.Name, err)
			continue
		}
		got := &v1.GlobalModel{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), got); err != nil {
			t.Fatal(err)
		}
		d := got.Spec.Training.Dataset
		if d.Format != m.Spec.Training.Dataset.Format {
			t.Errorf("%s: format %q stored", m.Name, d.Format)
		}
		if n := d.Negatives; n != nil && n.PerPositive == 0 {
			t.Errorf("%s: negatives.perPositive not defaulted: %+v", m.Name, n)
		}
	}
	bad := []struct {
		m     *v1.GlobalModel
		field string
	}{
		{model("amazon-no-uri", v1.DatasetAmazon, "", nil), "uri is required unless format is Synthetic"},
		{model("amazon-too-many-negatives", v1.DatasetAmazon, "s3://data/amazon", &v1.NegativeSampling{PerPositive: 1001}), "spec.training.dataset.negatives.perPositive"},
		{model("amazon-negative-seed", v1.DatasetAmazon, "s3://data/amazon", &v1.NegativeSampling{PerPositive: 3, Seed: -1}), "spec.training.dataset.negatives.seed"},
		{model("samples-with-negatives", v1.DatasetSamples, "s3://data/s.csv", &v1.NegativeSampling{PerPositive: 3}), "negatives may only be set when format is Amazon or Implicit"},
		{model("unknown-format", "Criteo", "s3://data/criteo", nil), "spec.training.dataset.format"},
	}
	for _, b := range bad {
		err := k8sClient.Create(ctx, b.m)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), b.field) {
			t.Errorf("%s: error %v, want Invalid naming %q", b.m.Name, err, b.field)
		}
	}
}

// TestExplainPlacement checks that `kubectl explain ftc.spec.placement`
// teaches every field: the API server publishes a description for each, and
// kubectl prints them.
func TestExplainPlacement(t *testing.T) {
	needEnv(t)
	fields := []string{"pool", "nodeSelector", "tolerations", "affinity", "resources", "priorityClassName"}
	kubectl := testassets.Kubectl(t)
	user, err := testEnv.AddUser(envtest.User{Name: "explain", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("adding user: %v", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", path, "explain", "ftc.spec.placement").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl explain: %v\n%s", err, out)
	}
	t.Logf("kubectl explain ftc.spec.placement:\n%s", out)
	text := string(out)
	for _, f := range fields {
		i := strings.Index(text, "\n  "+f+"\t")
		if i < 0 {
			t.Errorf("field %s is not explained", f)
			continue
		}
		// The line after the field's name holds its description.
		rest := strings.SplitN(text[i+1:], "\n", 3)
		if len(rest) < 2 || strings.TrimSpace(rest[1]) == "" || strings.Contains(rest[1], "<no description>") {
			t.Errorf("field %s has no description", f)
		}
	}
}

// validPodTemplate uses every field of a pod template, within the rules.
func validPodTemplate() *v1.TrainerPodTemplate {
	return &v1.TrainerPodTemplate{
		Labels:             map[string]string{"team": "ml"},
		Annotations:        map[string]string{"example.com/cost-center": "42"},
		ServiceAccountName: "trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
		Env: []corev1.EnvVar{
			{Name: "AWS_REGION", Value: "eu-west-1"},
			{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}, Key: "secret"}}},
		},
		EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}}}},
		Volumes: []corev1.Volume{
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "datasets"}}},
			{Name: "ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}}}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}, {Name: "ca", MountPath: "/etc/ssl/custom"}},
		SecurityContext: &v1.TrainerSecurityContext{
			RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000),
			SupplementalGroups: []int64{3000}, RunAsNonRoot: ptr.To(true),
			FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch),
		},
	}
}

func TestPodTemplateIsAcceptedOnAllKinds(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	if err := validPodTemplate().Validate("spec.podTemplate"); err != nil {
		t.Fatalf("the Go validator refuses the valid template: %v", err)
	}
	gm, pol, c := validModel(ns), validPolicy(ns), validCohort(ns)
	gm.Spec.PodTemplate, pol.Spec.PodTemplate, c.Spec.PodTemplate = validPodTemplate(), validPodTemplate(), validPodTemplate()
	for _, obj := range []client.Object{gm, pol, c} {
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Fatalf("%T with a valid pod template rejected: %v", obj, err)
		}
	}
	got := &v1.FineTuneCohort{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(c), got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(validPodTemplate(), got.Spec.PodTemplate); diff != "" {
		t.Errorf("the stored pod template differs (-sent +stored):\n%s", diff)
	}
}

// podTemplateCase breaks a TrainerPodTemplate; path and rule name the CEL
// rule it breaks (under spec.podTemplate), empty for OpenAPI limits.
type podTemplateCase struct {
	name       string
	path, rule string
	mutate     func(*v1.TrainerPodTemplate)
	want       string // in the API server's message
}

// podTemplateCases has a case for every CEL rule of TrainerPodTemplate; the
// Go validator (used for the operator's default template) refuses the same
// templates.
func podTemplateCases() []podTemplateCase {
	vol := func(name string, src corev1.VolumeSource) func(*v1.TrainerPodTemplate) {
		return func(p *v1.TrainerPodTemplate) {
			p.Volumes = append(p.Volumes, corev1.Volume{Name: name, VolumeSource: src})
		}
	}
	mount := func(m corev1.VolumeMount) func(*v1.TrainerPodTemplate) {
		return func(p *v1.TrainerPodTemplate) { p.VolumeMounts = append(p.VolumeMounts, m) }
	}
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	return []podTemplateCase{
		{"label managed-by", "labels", "may not set the operator's labels", func(p *v1.TrainerPodTemplate) { p.Labels[`app.kubernetes.io/managed-by`] = "me" }, "spec.podTemplate.labels: Invalid value"},
		{"label owner-name", "labels", "may not set the operator's labels", func(p *v1.TrainerPodTemplate) { p.Labels["finetune.lcft.dev/owner-name"] = "other" }, "may not set the operator's labels"},
		{"annotation run-hash", "annotations", "may not set the operator's finetune.lcft.dev", func(p *v1.TrainerPodTemplate) { p.Annotations["finetune.lcft.dev/run-hash"] = "x" }, "spec.podTemplate.annotations: Invalid value: podTemplate.annotations may not set the operator's"},
		{"annotation apparmor unconfined", "annotations", "AppArmor or seccomp", func(p *v1.TrainerPodTemplate) {
			p.Annotations["container.apparmor.security.beta.kubernetes.io/trainer"] = "unconfined"
		}, "may not set AppArmor or seccomp annotations"},
		{"env LCFT_SHARD_COUNT", "env", "are reserved for the operator", func(p *v1.TrainerPodTemplate) {
			p.Env = append(p.Env, corev1.EnvVar{Name: "LCFT_SHARD_COUNT", Value: "9"})
		}, "spec.podTemplate.env: Invalid value: podTemplate.env names LCFT_*, JOB_COMPLETION_INDEX and GOMEMLIMIT are reserved"},
		{"env JOB_COMPLETION_INDEX", "env", "are reserved for the operator", func(p *v1.TrainerPodTemplate) {
			p.Env = append(p.Env, corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", Value: "0"})
		}, "are reserved for the operator"},
		{"env GOMEMLIMIT", "env", "are reserved for the operator", func(p *v1.TrainerPodTemplate) {
			p.Env = append(p.Env, corev1.EnvVar{Name: "GOMEMLIMIT", Value: "1GiB"})
		}, "are reserved for the operator"},
		{"too many env", "", "", func(p *v1.TrainerPodTemplate) {
			for i := range 65 {
				p.Env = append(p.Env, corev1.EnvVar{Name: "V" + strconv.Itoa(i), Value: "x"})
			}
		}, "spec.podTemplate.env: Too many"},
		{"volume named scratch", "volumes", "are reserved for the operator", vol("scratch", emptyDir), "podTemplate.volumes names run-spec, scratch and pvc-* are reserved"},
		{"volume named pvc-0", "volumes", "are reserved for the operator", vol("pvc-0", emptyDir), "podTemplate.volumes names run-spec, scratch and pvc-* are reserved"},
		{"hostPath volume", "volumes", "may not use hostPath", vol("host", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run"}}), "podTemplate.volumes may not use hostPath"},
		{"nfs volume", "volumes", "may only be configMap", vol("share", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/x"}}), "podTemplate.volumes may only be configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret"},
		{"image volume", "volumes", "may only be configMap", vol("img", corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "busybox"}}), "podTemplate.volumes may only be"},
		// exactly-one-source cannot see a forbidden type beside an allowed one: the type rule does.
		{"nfs beside a secret", "volumes", "may only be configMap", vol("mixed", corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "s"}, NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/x"},
		}), "podTemplate.volumes may only be configMap, csi"},
		{"volume with two sources", "volumes", "each volume needs exactly one source", vol("two", corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{}, Secret: &corev1.SecretVolumeSource{SecretName: "s"},
		}), "each volume needs exactly one source"},
		{"relative mount path", "volumeMounts", "must be an absolute path", mount(corev1.VolumeMount{Name: "data", MountPath: "data"}), "mountPath must be an absolute path without '..'"},
		{"mount path with ..", "volumeMounts", "must be an absolute path", mount(corev1.VolumeMount{Name: "data", MountPath: "/data/../etc/lcft"}), "mountPath must be an absolute path without '..'"},
		{"mount at /tmp", "volumeMounts", "may not mount at /,", mount(corev1.VolumeMount{Name: "data", MountPath: "/tmp"}), "podTemplate.volumeMounts may not mount at /, /dev/termination-log, or at or below /etc/lcft, /tmp and /mnt/pvc"},
		{"mount below /etc/lcft", "volumeMounts", "may not mount at /,", mount(corev1.VolumeMount{Name: "data", MountPath: "/etc/lcft/spec.json"}), "may not mount at /, /dev/termination-log, or at or below"},
		{"mount below /mnt/pvc", "volumeMounts", "may not mount at /,", mount(corev1.VolumeMount{Name: "data", MountPath: "/mnt/pvc/datasets"}), "may not mount at /, /dev/termination-log, or at or below"},
		{"mount of the run spec", "volumeMounts", "may not mount the operator's volumes", mount(corev1.VolumeMount{Name: "run-spec", MountPath: "/spec"}), "may not mount the operator's volumes (run-spec, scratch, pvc-*)"},
		{"bidirectional mount", "volumeMounts", "mountPropagation Bidirectional", mount(corev1.VolumeMount{Name: "data", MountPath: "/shared", MountPropagation: ptr.To(corev1.MountPropagationBidirectional)}), "mountPropagation Bidirectional needs a privileged container"},
		{"runAsUser 0", "securityContext.runAsUser", "may not be 0", func(p *v1.TrainerPodTemplate) { p.SecurityContext.RunAsUser = ptr.To[int64](0) }, "spec.podTemplate.securityContext.runAsUser: Invalid value: 0: podTemplate.securityContext.runAsUser may not be 0"},
		{"runAsNonRoot false", "securityContext.runAsNonRoot", "may not be false", func(p *v1.TrainerPodTemplate) { p.SecurityContext.RunAsNonRoot = ptr.To(false) }, "spec.podTemplate.securityContext.runAsNonRoot: Invalid value: false: podTemplate.securityContext.runAsNonRoot may not be false"},
		{"service account name not a DNS name", "", "", func(p *v1.TrainerPodTemplate) { p.ServiceAccountName = "Trainer_SA" }, "spec.podTemplate.serviceAccountName"},
	}
}

func TestInvalidPodTemplatesAreRejected(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	for _, tc := range podTemplateCases() {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := validPodTemplate()
			tc.mutate(tmpl)
			if err := tmpl.Validate("spec.podTemplate"); err == nil {
				t.Errorf("the Go validator (for the operator's default template) accepts %s", tc.name)
			}
			c := validCohort(ns)
			c.Name = "ftc-" + strconv.Itoa(len(tc.name))
			c.Spec.PodTemplate = tmpl
			err := k8sClient.Create(context.Background(), c)
			if err == nil {
				_ = k8sClient.Delete(context.Background(), c)
				t.Fatalf("%s was accepted; want a rejection containing %q", tc.name, tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			t.Logf("rejected %q: %v", tc.name, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message does not contain %q:\n%v", tc.want, err)
			}
		})
	}

	// The other kinds carry the same rules.
	gm := validModel(ns)
	gm.Spec.PodTemplate = validPodTemplate()
	gm.Spec.PodTemplate.Volumes = append(gm.Spec.PodTemplate.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	pol := validPolicy(ns)
	pol.Spec.PodTemplate = validPodTemplate()
	pol.Spec.PodTemplate.SecurityContext.RunAsUser = ptr.To[int64](0)
	for _, obj := range []client.Object{gm, pol} {
		err := k8sClient.Create(context.Background(), obj)
		if err == nil || !strings.Contains(err.Error(), "spec.podTemplate.") {
			t.Errorf("%T with a bad pod template: want a rejection naming spec.podTemplate, got %v", obj, err)
			continue
		}
		t.Logf("rejected %T: %v", obj, err)
	}
}

package charttest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/lcft-dev/lcft-operator/internal/testassets"
)

// TestHelmInstall installs the chart with helm into a real kube-apiserver
// (envtest), as `helm install --create-namespace` would into a cluster: the
// CRDs come from the chart's crds/ (envtest is started without any), the
// kubeVersion constraint is checked against the server's version, and the
// server's RBAC and Pod Security admission judge what the chart creates.
// envtest runs no controllers, so no pod runs: the Deployment is checked as
// an object, and its pod template is submitted with dry-run.
func TestHelmInstall(t *testing.T) {
	helmBinary(t) // stop early without helm
	testassets.Envtest(t)
	env := &envtest.Environment{} // no CRDDirectoryPaths: helm installs them
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping envtest: %v", err)
		}
	})
	admin, err := env.AddUser(envtest.User{Name: "helm-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("adding the helm user: %v", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfigPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	helm := func(args ...string) string {
		t.Helper()
		return mustHelm(t, append(args, "--kubeconfig", kubeconfigPath)...)
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Install, with a pool map and a trainer pod template so that the
	// ConfigMap paths are exercised too.
	out := helm("install", releaseName, chartDir(t),
		"--namespace", namespace, "--create-namespace", "--timeout", "2m",
		"--set", `poolMap.arm64.node\.example\.com/pool=graviton`,
		"--set", "trainer.podTemplate.envFrom[0].secretRef.name=s3-credentials")
	for _, want := range []string{"STATUS: deployed", "rollout status deployment/" + releaseName} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install output lacks %q:\n%s", want, out)
		}
	}

	// The CRDs, from the chart's crds/, are established.
	crdFiles, err := filepath.Glob(filepath.Join(chartDir(t), "crds", "*.yaml"))
	if err != nil || len(crdFiles) == 0 {
		t.Fatalf("no CRDs in the chart (%v)", err)
	}
	for _, f := range crdFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, types.NamespacedName{Name: want.Name}, &crd); err != nil {
			t.Errorf("CRD %s: %v", want.Name, err)
			continue
		}
		for _, cond := range []apiextensionsv1.CustomResourceDefinitionConditionType{apiextensionsv1.Established, apiextensionsv1.NamesAccepted} {
			if !crdCondition(&crd, cond) {
				t.Errorf("CRD %s is not %s: %+v", crd.Name, cond, crd.Status.Conditions)
			}
		}
	}

	// Every object of the release is there.
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lcft-operator"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lcft-operator-metrics"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lcft-operator-pool-map"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lcft-operator-trainer"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "lcft-operator-metrics-auth"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "lcft-operator-metrics-reader"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lcft-operator-manager"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lcft-operator-metrics-auth"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lcft-operator-leader-election"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lcft-operator-leader-election"}},
	} {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Errorf("%T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	var role rbacv1.ClusterRole
	if err := c.Get(ctx, types.NamespacedName{Name: "lcft-operator-manager"}, &role); err != nil {
		t.Fatalf("manager ClusterRole: %v", err)
	}
	if diff := cmp.Diff(readClusterRole(t, filepath.Join("config", "rbac", "role.yaml")).Rules, role.Rules); diff != "" {
		t.Errorf("installed manager ClusterRole differs from config/rbac/role.yaml (-config +installed):\n%s", diff)
	}
	var deploy appsv1.Deployment
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: releaseName}, &deploy); err != nil {
		t.Fatalf("Deployment: %v", err)
	}
	if flags := flagValues(manager(t, &deploy).Args); flags["leader-elect"] == nil || flags["pool-map-file"] == nil || flags["trainer-pod-template-file"] == nil {
		t.Errorf("installed Deployment args %v", manager(t, &deploy).Args)
	}

	// The CRDs serve: a sample custom resource is accepted.
	sample := &unstructured.Unstructured{}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "samples", "finetune_v1alpha1_correctionpolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &sample.Object); err != nil {
		t.Fatal(err)
	}
	sample.SetNamespace("default")
	if err := c.Create(ctx, sample); err != nil {
		t.Errorf("creating the sample %s: %v", sample.GetKind(), err)
	}

	// The bindings give the manager's service account what it needs, where it
	// needs it, and nothing more (the API server's RBAC authorizer decides).
	sa := "system:serviceaccount:" + namespace + ":lcft-operator"
	for _, tc := range []struct {
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "batch", Resource: "jobs"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: "finetune.lcft.dev", Resource: "finetunecohorts", Subresource: "status"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Resource: "pods"}, true},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "create", Resource: "events"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, false},
		// Secrets: read-only (a metadata watch needs get, list and watch), never written.
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "watch", Resource: "secrets"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "pods"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "finetune.lcft.dev", Resource: "globalmodels"}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}, false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}, ResourceAttributes: &tc.attrs}}
		if err := c.Create(ctx, sar); err != nil {
			t.Fatalf("SubjectAccessReview: %v", err)
		}
		if sar.Status.Allowed != tc.want {
			t.Errorf("manager may %s %s/%s %s in %q: %v, want %v (%s)", tc.attrs.Verb, tc.attrs.Group, tc.attrs.Resource,
				tc.attrs.Subresource, tc.attrs.Namespace, sar.Status.Allowed, tc.want, sar.Status.Reason)
		}
	}

	// Pod Security: with the namespace enforcing "restricted", the manager's
	// pod is admitted; the same pod with hostNetwork is refused (hence the
	// chart's note that hostNetwork needs a privileged namespace).
	var ns corev1.Namespace
	if err := c.Get(ctx, types.NamespacedName{Name: namespace}, &ns); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if err := c.Patch(ctx, &ns, patch); err != nil {
		t.Fatal(err)
	}
	podFrom := func(d *appsv1.Deployment, name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: d.Spec.Template.Labels},
			Spec:       *d.Spec.Template.Spec.DeepCopy(),
		}
	}
	if err := c.Create(ctx, podFrom(&deploy, "psa-restricted"), client.DryRunAll); err != nil {
		t.Errorf("Pod Security restricted refuses the manager pod: %v", err)
	}
	hostNet := render(t, "--set", "hostNetwork=true").deployment(t)
	err = c.Create(ctx, podFrom(hostNet, "psa-hostnetwork"), client.DryRunAll)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "host namespaces") {
		t.Errorf("Pod Security restricted admitted (or refused for another reason) the hostNetwork pod: %v", err)
	}

	// Upgrade: with the prometheus-operator's ServiceMonitor kind served, the
	// optional ServiceMonitor is created.
	installServiceMonitorCRD(ctx, t, c)
	out = helm("upgrade", releaseName, chartDir(t), "--namespace", namespace, "--reuse-values",
		"--set", "serviceMonitor.enabled=true", "--set", "metrics.certSecret=lcft-operator-metrics-tls", "--timeout", "2m")
	if !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "REVISION: 2") {
		t.Errorf("helm upgrade output:\n%s", out)
	}
	sm := &unstructured.Unstructured{}
	sm.SetAPIVersion("monitoring.coreos.com/v1")
	sm.SetKind("ServiceMonitor")
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: releaseName}, sm); err != nil {
		t.Errorf("ServiceMonitor after the upgrade: %v", err)
	}

	// Uninstall removes the release's objects and, as Helm does for crds/,
	// keeps the CRDs (and so the users' custom resources).
	helm("uninstall", releaseName, "--namespace", namespace, "--timeout", "2m")
	for _, obj := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: releaseName}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "lcft-operator-manager"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lcft-operator-manager"}},
	} {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s after uninstall: %v (want not found)", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, crd := range crds.Items {
		if crd.Spec.Group == "finetune.lcft.dev" {
			names = append(names, crd.Name)
		}
	}
	if len(names) != len(crdFiles) {
		t.Errorf("finetune.lcft.dev CRDs after uninstall: %v, want all %d kept", names, len(crdFiles))
	}
}

func crdCondition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	return slices.ContainsFunc(crd.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
		return c.Type == t && c.Status == apiextensionsv1.ConditionTrue
	})
}

// installServiceMonitorCRD serves monitoring.coreos.com/v1 ServiceMonitor with
// an open schema: enough for Helm to create the chart's ServiceMonitor.
func installServiceMonitorCRD(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: "servicemonitors", Singular: "servicemonitor", Kind: "ServiceMonitor", ListKind: "ServiceMonitorList",
			},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
	if err := c.Create(ctx, crd); err != nil {
		t.Fatalf("creating the ServiceMonitor CRD: %v", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd)
		return err == nil && crdCondition(crd, apiextensionsv1.Established), nil
	})
	if err != nil {
		t.Fatalf("the ServiceMonitor CRD is not established: %+v", crd.Status.Conditions)
	}
}

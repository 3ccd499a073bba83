package controllers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// managerRole is config/rbac/role.yaml, the ClusterRole that controller-gen
// makes from the +kubebuilder:rbac markers (and the chart installs).
func managerRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatalf("reading the manager role: %v", err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		t.Fatalf("decoding the manager role: %v", err)
	}
	return role
}

// asServiceAccount is the API server's config for the manager acting as the
// service account ns/name (impersonated by the test's admin).
func asServiceAccount(ns, name string) *rest.Config {
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + name}
	return cfg
}

func subject(ns, name string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}
}

// runModelAndCohort runs a model and a cohort in ns to the end and returns
// the manager's log meanwhile.
func runModelAndCohort(t *testing.T, ns string, start func()) string {
	t.Helper()
	newFakeCluster(t, ns)
	stopLog := managerLog.capture()
	defer stopLog()
	start()
	gm := modelObj(ns, "wd")
	c := cohortObj(ns, "rbac", "wd")
	create(t, gm, c)
	waitCohort(t, c, v1.PhaseSucceeded)
	return managerLog.String()
}

func noForbidden(t *testing.T, log string) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "forbidden") {
			t.Errorf("the manager was refused something its role should grant:\n%s", line)
		}
	}
}

// TestManagerRunsWithItsClusterRole runs the manager as a service account
// bound to exactly the generated ClusterRole (no more): a model and a
// cohort go to the end, and the API server refuses the manager nothing.
// The role holds only the verbs the code uses (README, "RBAC"); a verb cut
// too far fails this test.
func TestManagerRunsWithItsClusterRole(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	role := managerRole(t)
	role.ObjectMeta = metav1.ObjectMeta{GenerateName: "lcft-manager-"}
	create(t, role)
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "lcft-manager-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   subject(ns, "manager"),
	}
	create(t, binding)
	t.Cleanup(func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, role)
	})
	log := runModelAndCohort(t, ns, func() { startManagerOn(t, asServiceAccount(ns, "manager"), CacheOptions(), nil) })
	noForbidden(t, log)
}

// TestNamespacedManagerNeedsOnlyRoles is the chart's watchNamespaces mode:
// the manager watches one namespace (CacheOptions with it, as
// --watch-namespaces does) and holds the manager's rules as a Role there,
// nothing cluster-wide. Its objects go to the end; an object in another
// namespace is never touched (no finalizer, no status).
func TestNamespacedManagerNeedsOnlyRoles(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns, other := newNamespace(t), newNamespace(t)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lcft-manager"}, Rules: managerRole(t).Rules}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lcft-manager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   subject(ns, "manager"),
	}
	create(t, role, binding)
	outside := modelObj(other, "wd")
	create(t, outside)

	log := runModelAndCohort(t, ns, func() { startManagerOn(t, asServiceAccount(ns, "manager"), CacheOptions(ns), nil) })
	noForbidden(t, log)
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(outside), outside); err != nil {
		t.Fatal(err)
	}
	if len(outside.Finalizers) > 0 || outside.Status.Phase != "" {
		t.Errorf("the manager of %s touched a model in %s: finalizers %v, phase %q", ns, other, outside.Finalizers, outside.Status.Phase)
	}
}

func TestParseNamespaces(t *testing.T) {
	got, err := ParseNamespaces(" team-a,team-b,,team-a ")
	if err != nil || strings.Join(got, ",") != "team-a,team-b" {
		t.Errorf("got %v, %v; want [team-a team-b]", got, err)
	}
	if got, err := ParseNamespaces(""); err != nil || got != nil {
		t.Errorf("empty: got %v, %v; want every namespace (nil)", got, err)
	}
	if _, err := ParseNamespaces("team-a,Team_B"); err == nil || !strings.Contains(err.Error(), `"Team_B" is not a namespace name`) {
		t.Errorf("want an error naming Team_B, got %v", err)
	}
	opts := CacheOptions("team-a", "team-b")
	if len(opts.DefaultNamespaces) != 2 || len(CacheOptions().DefaultNamespaces) != 0 {
		t.Errorf("cache namespaces: %v; without namespaces: %v", opts.DefaultNamespaces, CacheOptions().DefaultNamespaces)
	}
}

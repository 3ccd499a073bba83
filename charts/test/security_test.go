package charttest

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// serviceMonitorTLS renders the chart with args and returns the
// ServiceMonitor endpoint's tlsConfig.
func serviceMonitorTLS(t *testing.T, args ...string) map[string]any {
	t.Helper()
	r := render(t, append([]string{"--set", "serviceMonitor.enabled=true"}, args...)...)
	sms := r.find("ServiceMonitor", "lcft-operator")
	if len(sms) != 1 {
		t.Fatalf("want one ServiceMonitor, got %s", r.summary())
	}
	endpoints, _, _ := unstructured.NestedSlice(sms[0].obj.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints: %v", endpoints)
	}
	tls, _ := endpoints[0].(map[string]any)["tlsConfig"].(map[string]any)
	return tls
}

// The ServiceMonitor verifies the metrics certificate unless told not to,
// explicitly; without a CA to verify against the chart refuses to render.
func TestServiceMonitorVerifiesTLS(t *testing.T) {
	helmBinary(t)
	t.Run("no CA: refused", func(t *testing.T) {
		templateFails(t, []string{"--set", "serviceMonitor.enabled=true"}, "set metrics.certSecret")
	})
	t.Run("the CA of metrics.certSecret", func(t *testing.T) {
		got := serviceMonitorTLS(t, "--set", "metrics.certSecret=metrics-tls")
		want := map[string]any{
			"ca":                 map[string]any{"secret": map[string]any{"name": "metrics-tls", "key": "ca.crt"}},
			"serverName":         "lcft-operator-metrics." + namespace + ".svc",
			"insecureSkipVerify": false,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tlsConfig (-want +got):\n%s", diff)
		}
	})
	t.Run("an explicit CA and server name", func(t *testing.T) {
		got := serviceMonitorTLS(t, "--set", "serviceMonitor.tlsConfig.ca.configMap.name=cluster-ca",
			"--set", "serviceMonitor.tlsConfig.ca.configMap.key=ca.pem", "--set", "serviceMonitor.tlsConfig.serverName=metrics.example.com")
		want := map[string]any{
			"ca":                 map[string]any{"configMap": map[string]any{"name": "cluster-ca", "key": "ca.pem"}},
			"serverName":         "metrics.example.com",
			"insecureSkipVerify": false,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tlsConfig (-want +got):\n%s", diff)
		}
	})
	t.Run("insecureSkipVerify only when set", func(t *testing.T) {
		got := serviceMonitorTLS(t, "--set", "serviceMonitor.tlsConfig.insecureSkipVerify=true")
		if diff := cmp.Diff(map[string]any{"insecureSkipVerify": true}, got); diff != "" {
			t.Errorf("tlsConfig (-want +got):\n%s", diff)
		}
	})
	t.Run("the certificate is mounted for the manager", func(t *testing.T) {
		d := render(t, "--set", "metrics.certSecret=metrics-tls").deployment(t)
		c := manager(t, d)
		dir := flagValues(c.Args)["metrics-cert-dir"]
		var mounted bool
		for _, m := range c.VolumeMounts {
			for _, v := range d.Spec.Template.Spec.Volumes {
				mounted = mounted || (m.Name == v.Name && v.Secret != nil && v.Secret.SecretName == "metrics-tls" &&
					m.ReadOnly && len(dir) == 1 && m.MountPath == dir[0])
			}
		}
		if !mounted {
			t.Errorf("Secret metrics-tls is not mounted read-only at --metrics-cert-dir %v: mounts %+v", dir, c.VolumeMounts)
		}
	})
}

// watchNamespaces: Roles and RoleBindings in each namespace with the
// manager's rules, no cluster-wide manager role, and --watch-namespaces.
func TestNamespacedInstall(t *testing.T) {
	r := render(t, "--set", "watchNamespaces={team-a,team-b}")
	if n := len(r.find("ClusterRole", "lcft-operator-manager")) + len(r.find("ClusterRoleBinding", "lcft-operator-manager")); n != 0 {
		t.Errorf("a cluster-wide manager role in namespaced mode: %s", r.summary())
	}
	source := readClusterRole(t, filepath.Join("config", "rbac", "role.yaml"))
	for _, ns := range []string{"team-a", "team-b"} {
		var role *rbacv1.Role
		var binding *rbacv1.RoleBinding
		for _, d := range r.find("Role", "lcft-operator-manager") {
			if d.obj.GetNamespace() == ns {
				role = &rbacv1.Role{}
				decode(t, d, role)
			}
		}
		for _, d := range r.find("RoleBinding", "lcft-operator-manager") {
			if d.obj.GetNamespace() == ns {
				binding = &rbacv1.RoleBinding{}
				decode(t, d, binding)
			}
		}
		if role == nil || binding == nil {
			t.Fatalf("no manager Role and RoleBinding in %s: %s", ns, r.summary())
		}
		if diff := cmp.Diff(source.Rules, role.Rules); diff != "" {
			t.Errorf("Role in %s differs from config/rbac/role.yaml (-config +chart):\n%s", ns, diff)
		}
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "lcft-operator", Namespace: namespace}}
		if binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Name || !reflect.DeepEqual(binding.Subjects, want) {
			t.Errorf("RoleBinding in %s: %+v %+v", ns, binding.RoleRef, binding.Subjects)
		}
	}
	flags := flagValues(manager(t, r.deployment(t)).Args)
	if !reflect.DeepEqual(flags["watch-namespaces"], []string{"team-a,team-b"}) {
		t.Errorf("--watch-namespaces=%v", flags["watch-namespaces"])
	}
	if flags := flagValues(manager(t, render(t).deployment(t)).Args); flags["watch-namespaces"] != nil {
		t.Errorf("--watch-namespaces rendered without watchNamespaces: %v", flags["watch-namespaces"])
	}
	templateFails(t, []string{"--set", "watchNamespaces={Team_A}"}, "/watchNamespaces/0")
}

// Tenants get the three kinds through the built-in view, edit and admin
// ClusterRoles; they only read status.
func TestAggregatedRoles(t *testing.T) {
	r := render(t)
	kinds := []string{"globalmodels", "correctionpolicies", "finetunecohorts"}
	status := []string{"globalmodels/status", "correctionpolicies/status", "finetunecohorts/status"}
	var viewer, editor rbacv1.ClusterRole
	r.one(t, "ClusterRole", "lcft-operator-viewer", &viewer)
	r.one(t, "ClusterRole", "lcft-operator-editor", &editor)
	if viewer.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
		t.Errorf("viewer labels %v", viewer.Labels)
	}
	if editor.Labels["rbac.authorization.k8s.io/aggregate-to-edit"] != "true" || editor.Labels["rbac.authorization.k8s.io/aggregate-to-admin"] != "true" {
		t.Errorf("editor labels %v", editor.Labels)
	}
	read := []string{"get", "list", "watch"}
	wantViewer := []rbacv1.PolicyRule{{APIGroups: []string{"finetune.lcft.dev"}, Resources: slices.Concat(kinds, status), Verbs: read}}
	if diff := cmp.Diff(wantViewer, viewer.Rules); diff != "" {
		t.Errorf("viewer rules (-want +got):\n%s", diff)
	}
	wantEditor := []rbacv1.PolicyRule{
		{APIGroups: []string{"finetune.lcft.dev"}, Resources: kinds, Verbs: slices.Concat(read, []string{"create", "update", "patch", "delete", "deletecollection"})},
		{APIGroups: []string{"finetune.lcft.dev"}, Resources: status, Verbs: read},
	}
	if diff := cmp.Diff(wantEditor, editor.Rules); diff != "" {
		t.Errorf("editor rules (-want +got):\n%s", diff)
	}
	off := render(t, "--set", "rbac.aggregatedRoles=false")
	if len(off.find("ClusterRole", "lcft-operator-viewer"))+len(off.find("ClusterRole", "lcft-operator-editor")) != 0 {
		t.Errorf("aggregated roles with rbac.aggregatedRoles=false: %s", off.summary())
	}
}

// NetworkPolicy and PodDisruptionBudget: off by default; on, they select
// the manager's pods and allow what the values say.
func TestNetworkPolicyAndDisruptionBudget(t *testing.T) {
	r := render(t)
	if len(r.find("NetworkPolicy", ""))+len(r.find("PodDisruptionBudget", "")) != 0 {
		t.Errorf("NetworkPolicy or PodDisruptionBudget by default: %s", r.summary())
	}
	r = render(t, "-f", fullValues)
	selector := r.deployment(t).Spec.Selector.MatchLabels

	var np networkingv1.NetworkPolicy
	r.one(t, "NetworkPolicy", "lcft-operator", &np)
	if !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, selector) {
		t.Errorf("NetworkPolicy selects %v, the Deployment's pods are %v", np.Spec.PodSelector.MatchLabels, selector)
	}
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policy types %v", np.Spec.PolicyTypes)
	}
	tcp := corev1.ProtocolTCP
	port := func(p int) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(int32(p))
		return networkingv1.NetworkPolicyPort{Port: &v, Protocol: &tcp}
	}
	if len(np.Spec.Ingress) != 2 || !reflect.DeepEqual(np.Spec.Ingress[0].Ports, []networkingv1.NetworkPolicyPort{port(18443)}) ||
		len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" ||
		!reflect.DeepEqual(np.Spec.Ingress[1].Ports, []networkingv1.NetworkPolicyPort{port(18081)}) {
		t.Errorf("ingress: want metrics 18443 from monitoring and probes on 18081, got %+v", np.Spec.Ingress)
	}
	if len(np.Spec.Egress) != 3 || !reflect.DeepEqual(np.Spec.Egress[1].Ports, []networkingv1.NetworkPolicyPort{port(6443)}) ||
		len(np.Spec.Egress[1].To) != 1 || np.Spec.Egress[1].To[0].IPBlock.CIDR != "10.0.0.10/32" || len(np.Spec.Egress[0].Ports) != 2 {
		t.Errorf("egress: want DNS, the API server 10.0.0.10/32:6443 and the trainer pods, got %+v", np.Spec.Egress)
	} else if trainers := np.Spec.Egress[2]; !reflect.DeepEqual(trainers.Ports, []networkingv1.NetworkPolicyPort{port(9099)}) || len(trainers.To) != 1 ||
		trainers.To[0].NamespaceSelector == nil || len(trainers.To[0].NamespaceSelector.MatchLabels) != 0 || trainers.To[0].PodSelector == nil ||
		!reflect.DeepEqual(trainers.To[0].PodSelector.MatchLabels, map[string]string{"app.kubernetes.io/managed-by": "lcft-operator"}) {
		t.Errorf("egress to the trainer pods: want the progress port 9099 on pods managed by lcft-operator in any namespace, got %+v", trainers)
	}

	var pdb policyv1.PodDisruptionBudget
	r.one(t, "PodDisruptionBudget", "lcft-operator", &pdb)
	if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, selector) || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget %+v: want maxUnavailable 1 over the manager's pods", pdb.Spec)
	}
}

// decode decodes one rendered document into out, strictly.
func decode(t *testing.T, d renderedDoc, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(d.raw, out); err != nil {
		t.Fatalf("%s %s (%s) does not decode strictly: %v", d.obj.GetKind(), d.obj.GetName(), d.source, err)
	}
}

package charttest

import (
	"bytes"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/controllers"
)

const fullValues = "testdata/full-values.yaml"

// The chart's CRDs and manager rules are byte-for-byte copies of the
// controller-gen output (hack/chart-crds.sh sync); a stale copy fails here as
// well as in `hack/chart-crds.sh check`. Needs no helm.
func TestChartCopiesMatchConfig(t *testing.T) {
	root := repoRoot(t)
	src, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*"))
	if err != nil || len(src) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	dst, err := filepath.Glob(filepath.Join(chartDir(t), "crds", "*"))
	if err != nil {
		t.Fatal(err)
	}
	base := func(paths []string) []string {
		var names []string
		for _, p := range paths {
			names = append(names, filepath.Base(p))
		}
		return names
	}
	if diff := cmp.Diff(base(src), base(dst)); diff != "" {
		t.Errorf("charts/lcft-operator/crds differs from config/crd/bases (-config +chart); run hack/chart-crds.sh sync:\n%s", diff)
	}
	same := func(a, b string) {
		ra, errA := os.ReadFile(filepath.Join(root, a))
		rb, errB := os.ReadFile(filepath.Join(root, b))
		if errA != nil || errB != nil {
			t.Errorf("reading %s, %s: %v %v", a, b, errA, errB)
			return
		}
		if !bytes.Equal(ra, rb) {
			t.Errorf("%s differs from %s; run hack/chart-crds.sh sync", b, a)
		}
	}
	for _, name := range base(src) {
		same(filepath.Join("config", "crd", "bases", name), filepath.Join("charts", "lcft-operator", "crds", name))
	}
	same(filepath.Join("config", "rbac", "role.yaml"), filepath.Join("charts", "lcft-operator", "files", "manager-role.yaml"))
}

func TestHelmLintStrict(t *testing.T) {
	helmBinary(t) // skip the subtests at once without helm
	for name, args := range map[string][]string{
		"defaults": nil,
		// serviceMonitor, hostNetwork, kubernetesService, poolMap, ... all on.
		"full-values": {"-f", fullValues},
		"metrics-off": {"--set", "metrics.enabled=false"},
	} {
		t.Run(name, func(t *testing.T) {
			all := append([]string{"lint", "--strict", chartDir(t), "--namespace", namespace, "--kube-version", kubeVersion}, args...)
			out := mustHelm(t, all...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint output:\n%s", out)
			}
		})
	}
}

// The default rendering: what a plain `helm install` creates.
func TestTemplateDefaults(t *testing.T) {
	r := render(t)
	appVersion := chartAppVersion(t)

	// Exactly these objects, no ServiceMonitor, no pool-map ConfigMap.
	var got []string
	for _, d := range r.docs {
		got = append(got, d.obj.GetKind()+"/"+d.obj.GetName())
	}
	slices.Sort(got)
	want := []string{
		"ClusterRole/lcft-operator-editor",
		"ClusterRole/lcft-operator-manager",
		"ClusterRole/lcft-operator-metrics-auth",
		"ClusterRole/lcft-operator-metrics-reader",
		"ClusterRole/lcft-operator-viewer",
		"ClusterRoleBinding/lcft-operator-manager",
		"ClusterRoleBinding/lcft-operator-metrics-auth",
		"Deployment/lcft-operator",
		"Role/lcft-operator-leader-election",
		"RoleBinding/lcft-operator-leader-election",
		"Service/lcft-operator-metrics",
		"ServiceAccount/lcft-operator",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered objects (-want +got):\n%s", diff)
	}
	for _, d := range r.docs {
		switch d.obj.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			if d.obj.GetNamespace() != "" {
				t.Errorf("%s/%s is cluster-scoped but has namespace %q", d.obj.GetKind(), d.obj.GetName(), d.obj.GetNamespace())
			}
		default:
			if d.obj.GetNamespace() != namespace {
				t.Errorf("%s/%s: namespace %q, want %q", d.obj.GetKind(), d.obj.GetName(), d.obj.GetNamespace(), namespace)
			}
		}
	}

	d := r.deployment(t)
	pod := d.Spec.Template.Spec
	c := manager(t, d)
	if got := ptr.Deref(d.Spec.Replicas, 0); got != 1 {
		t.Errorf("replicas = %d, want 1", got)
	}
	if c.Image != "ghcr.io/lcft-dev/lcft-operator:"+appVersion || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s (%s), want ghcr.io/lcft-dev/lcft-operator:%s (IfNotPresent)", c.Image, c.ImagePullPolicy, appVersion)
	}
	if pod.ServiceAccountName != "lcft-operator" {
		t.Errorf("serviceAccountName = %q", pod.ServiceAccountName)
	}
	if pod.HostNetwork || pod.DNSPolicy != "" {
		t.Errorf("hostNetwork %v, dnsPolicy %q by default", pod.HostNetwork, pod.DNSPolicy)
	}
	// GOMEMLIMIT: 90% of the 256Mi limit, what make bench-controller runs
	// the manager with (controllers/scale_test.go reads the same values).
	if diff := cmp.Diff([]corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "241591860"}}, c.Env); diff != "" {
		t.Errorf("env by default (-want +got):\n%s", diff)
	}

	assertRestricted(t, &pod)

	// Flags: leader election, metrics, probes, the trainer image; no pool map.
	flags := flagValues(c.Args)
	wantFlags := map[string][]string{
		"leader-elect":              {"true"},
		"metrics-bind-address":      {":8443"},
		"metrics-secure":            {"true"},
		"health-probe-bind-address": {":8081"},
		"max-concurrent-reconciles": {"4"},
		"kube-api-qps":              {"-1"},
		"kube-api-burst":            {"100"},
		"trainer-image":             {"ghcr.io/lcft-dev/lcft-trainer:" + appVersion},
		"max-job-restarts":          {"3"},
		"unschedulable-after":       {"5m"},
		"progress-interval":         {"10s"},
		"progress-port":             {"8089"},
	}
	if diff := cmp.Diff(wantFlags, flags); diff != "" {
		t.Errorf("manager flags (-want +got):\n%s", diff)
	}

	// Probes on the health port, which is the probe bind address.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"metrics": 8443, "health": 8081}, ports); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		path := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s probe: %+v, want an HTTP GET", name, probe)
			continue
		}
		if probe.HTTPGet.Path != path || probe.HTTPGet.Port != intstr.FromString("health") {
			t.Errorf("%s probe GET %s on %s, want %s on health", name, probe.HTTPGet.Path, probe.HTTPGet.Port.String(), path)
		}
	}
	if c.Resources.Requests.Cpu().String() != "50m" || c.Resources.Limits.Memory().String() != "256Mi" {
		t.Errorf("resources: %+v", c.Resources)
	}

	// The metrics Service selects the manager pods and targets the metrics port.
	var svc corev1.Service
	r.one(t, "Service", "lcft-operator-metrics", &svc)
	for k, v := range svc.Spec.Selector {
		if pod := d.Spec.Template.Labels[k]; pod != v {
			t.Errorf("Service selector %s=%s, pod label %q", k, v, pod)
		}
	}
	if !reflect.DeepEqual(svc.Spec.Selector, d.Spec.Selector.MatchLabels) {
		t.Errorf("Service selector %v != Deployment selector %v", svc.Spec.Selector, d.Spec.Selector.MatchLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") ||
		svc.Spec.Ports[0].Name != "https" {
		t.Errorf("Service ports: %+v", svc.Spec.Ports)
	}
}

// assertRestricted checks Pod Security "restricted" (the install test also
// lets the API server's PodSecurity admission judge the pod).
func assertRestricted(t *testing.T, pod *corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || psc.SeccompProfile == nil ||
		psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", c.Name)
			continue
		}
		if !ptr.Deref(sc.RunAsNonRoot, false) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
			ptr.Deref(sc.AllowPrivilegeEscalation, true) || ptr.Deref(sc.Privileged, false) {
			t.Errorf("container %s securityContext %+v: want runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, not privileged", c.Name, sc)
		}
		if sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
			t.Errorf("container %s capabilities %+v: want drop [ALL], add none", c.Name, sc.Capabilities)
		}
	}
}

// The manager's ClusterRole has exactly the rules controller-gen generates
// from the +kubebuilder:rbac markers; the bindings bind the chart's service
// account; leader election and metrics auth are as narrow as they can be.
func TestTemplateRBAC(t *testing.T) {
	r := render(t)
	var role rbacv1.ClusterRole
	r.one(t, "ClusterRole", "lcft-operator-manager", &role)
	source := readClusterRole(t, filepath.Join("config", "rbac", "role.yaml"))
	if len(source.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	if diff := cmp.Diff(source.Rules, role.Rules); diff != "" {
		t.Errorf("chart ClusterRole rules differ from config/rbac/role.yaml (-config +chart):\n%s", diff)
	}

	for _, name := range []string{"lcft-operator-manager", "lcft-operator-metrics-auth"} {
		var b rbacv1.ClusterRoleBinding
		r.one(t, "ClusterRoleBinding", name, &b)
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "lcft-operator", Namespace: namespace}}
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != name || !reflect.DeepEqual(b.Subjects, want) {
			t.Errorf("ClusterRoleBinding %s: roleRef %+v, subjects %+v", name, b.RoleRef, b.Subjects)
		}
	}
	var rb rbacv1.RoleBinding
	r.one(t, "RoleBinding", "lcft-operator-leader-election", &rb)
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != "lcft-operator-leader-election" ||
		len(rb.Subjects) != 1 || rb.Subjects[0].Name != "lcft-operator" || rb.Subjects[0].Namespace != namespace {
		t.Errorf("leader-election RoleBinding: %+v %+v", rb.RoleRef, rb.Subjects)
	}

	var le rbacv1.Role
	r.one(t, "Role", "lcft-operator-leader-election", &le)
	wantLE := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
			Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if diff := cmp.Diff(wantLE, le.Rules); diff != "" {
		t.Errorf("leader-election Role rules (-want +got):\n%s", diff)
	}
	var ma rbacv1.ClusterRole
	r.one(t, "ClusterRole", "lcft-operator-metrics-auth", &ma)
	wantMA := []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
	if diff := cmp.Diff(wantMA, ma.Rules); diff != "" {
		t.Errorf("metrics-auth ClusterRole rules (-want +got):\n%s", diff)
	}

	// Least privilege: no wildcard anywhere, no escalation verbs, and
	// Secrets read-only (list/watch: the operator watches their metadata
	// to wait for the ones pod templates reference; it never writes them).
	readOnly := []string{"get", "list", "watch"}
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, d := range r.find(kind, "") {
			var cr rbacv1.ClusterRole // same rules shape for Role
			r.one(t, kind, d.obj.GetName(), &cr)
			for _, rule := range cr.Rules {
				all := slices.Concat(rule.APIGroups, rule.Resources, rule.Verbs, rule.NonResourceURLs)
				writesSecrets := slices.Contains(rule.Resources, "secrets") &&
					slices.ContainsFunc(rule.Verbs, func(v string) bool { return !slices.Contains(readOnly, v) })
				if slices.Contains(all, "*") || writesSecrets ||
					slices.ContainsFunc(rule.Verbs, func(v string) bool { return v == "escalate" || v == "bind" || v == "impersonate" }) {
					t.Errorf("%s %s: over-broad rule %+v", kind, d.obj.GetName(), rule)
				}
			}
		}
	}
}

// Every optional feature on (testdata/full-values.yaml).
func TestTemplateFullValues(t *testing.T) {
	r := render(t, "-f", fullValues)
	d := r.deployment(t)
	pod := d.Spec.Template.Spec
	c := manager(t, d)

	assertRestricted(t, &pod)
	if ptr.Deref(d.Spec.Replicas, 0) != 2 {
		t.Errorf("replicas = %d, want 2", ptr.Deref(d.Spec.Replicas, 0))
	}
	if c.Image != "registry.example.com/lcft/lcft-operator:v0.2.0-rc.1" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %s %s", c.Image, c.ImagePullPolicy)
	}
	if !reflect.DeepEqual(pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}) {
		t.Errorf("imagePullSecrets %+v", pod.ImagePullSecrets)
	}

	// hostNetwork, with cluster DNS kept, and the API server reached directly.
	if !pod.HostNetwork || pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v dnsPolicy %q, want true and ClusterFirstWithHostNet", pod.HostNetwork, pod.DNSPolicy)
	}
	wantEnv := []corev1.EnvVar{
		{Name: "GOMEMLIMIT", Value: "201326550"}, // 75% of 256Mi
		{Name: "KUBERNETES_SERVICE_HOST", Value: "10.0.0.10"},
		{Name: "KUBERNETES_SERVICE_PORT", Value: "6443"},
		{Name: "GOMAXPROCS", Value: "2"},
	}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}

	flags := flagValues(c.Args)
	wantFlags := map[string][]string{
		"leader-elect":              {"true"},
		"metrics-bind-address":      {":18443"},
		"metrics-secure":            {"true"},
		"metrics-cert-dir":          {"/etc/lcft-operator/metrics-certs"},
		"watch-namespaces":          {"team-a,team-b"},
		"health-probe-bind-address": {":18081"},
		"max-concurrent-reconciles": {"16"},
		"kube-api-qps":              {"200"},
		"kube-api-burst":            {"400"},
		"pprof-bind-address":        {"127.0.0.1:8082"},
		"trainer-image":             {"registry.example.com/lcft/lcft-trainer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		"artifact-uri":              {"pvc://lcft-artifacts/runs"},
		"pool-map-file":             {"/etc/lcft-operator/pool-map/pools.yaml"},
		"trainer-pod-template-file": {"/etc/lcft-operator/trainer/pod-template.yaml"},
		"trainer-resources-file":    {"/etc/lcft-operator/trainer/resources.yaml"},
		"zap-log-level":             {"debug"},
		"max-job-restarts":          {"5"},
		"unschedulable-after":       {"10m"},
		"progress-interval":         {"30s"},
		"progress-port":             {"9099"},
	}
	if diff := cmp.Diff(wantFlags, flags); diff != "" {
		t.Errorf("manager flags (-want +got):\n%s", diff)
	}
	if c.Args[len(c.Args)-1] != "--zap-log-level=debug" {
		t.Errorf("extraArgs should come last (so they can override): %v", c.Args)
	}

	// Pool map: a ConfigMap, mounted where --pool-map-file points, that the
	// manager's own loader accepts and reads as the values say.
	var cm corev1.ConfigMap
	r.one(t, "ConfigMap", "lcft-operator-pool-map", &cm)
	file := flags["pool-map-file"][0]
	var mounted bool
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name &&
				filepath.Join(m.MountPath, filepath.Base(file)) == file && m.ReadOnly {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted read-only at %s: mounts %+v volumes %+v", cm.Name, file, c.VolumeMounts, pod.Volumes)
	}
	data, ok := cm.Data[filepath.Base(file)]
	if !ok {
		t.Fatalf("ConfigMap has no key %s: %v", filepath.Base(file), cm.Data)
	}
	path := filepath.Join(t.TempDir(), "pools.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	pools, err := controllers.LoadPoolMap("", path)
	if err != nil {
		t.Fatalf("the manager rejects the rendered pool map %q: %v", data, err)
	}
	wantPools := controllers.PoolMap{
		finetunev1alpha1.PoolARM64: {"node.example.com/pool": "graviton"},
		finetunev1alpha1.PoolAMD64: {"node.example.com/pool": "x86", "kubernetes.io/arch": "amd64"},
	}
	if diff := cmp.Diff(wantPools, pools); diff != "" {
		t.Errorf("pool map as the manager reads it (-want +got):\n%s", diff)
	}
	if d.Spec.Template.Annotations["checksum/pool-map"] == "" {
		t.Errorf("no checksum/pool-map annotation: a changed pool map would not restart the manager")
	}
	checkTrainerConfig(t, r, d, flags)

	// Scheduling and pod metadata pass through.
	if pod.NodeSelector["node-role.kubernetes.io/control-plane"] != "" || len(pod.NodeSelector) != 1 ||
		len(pod.Tolerations) != 1 || pod.Affinity == nil || pod.Affinity.NodeAffinity == nil ||
		pod.PriorityClassName != "system-cluster-critical" {
		t.Errorf("scheduling: nodeSelector %v tolerations %v affinity %v priorityClassName %q",
			pod.NodeSelector, pod.Tolerations, pod.Affinity, pod.PriorityClassName)
	}
	if d.Spec.Template.Annotations["example.com/team"] != "ml-platform" || d.Spec.Template.Labels["example.com/tier"] != "control" {
		t.Errorf("pod annotations %v labels %v", d.Spec.Template.Annotations, d.Spec.Template.Labels)
	}

	// The ServiceMonitor scrapes the metrics Service's port over HTTPS with a token.
	sms := r.find("ServiceMonitor", "lcft-operator")
	if len(sms) != 1 {
		t.Fatalf("want one ServiceMonitor, got %s", r.summary())
	}
	sm := sms[0].obj
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetNamespace() != namespace || sm.GetLabels()["release"] != "kube-prometheus" {
		t.Errorf("ServiceMonitor %s %s/%s labels %v", sm.GetAPIVersion(), sm.GetNamespace(), sm.GetName(), sm.GetLabels())
	}
	var svc corev1.Service
	r.one(t, "Service", "lcft-operator-metrics", &svc)
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints: %v", endpoints)
	}
	ep := endpoints[0].(map[string]any)
	if ep["port"] != svc.Spec.Ports[0].Name || ep["scheme"] != "https" || ep["interval"] != "15s" || ep["bearerTokenFile"] == nil {
		t.Errorf("ServiceMonitor endpoint %v; Service port %q", ep, svc.Spec.Ports[0].Name)
	}
	selector, _, _ := unstructured.NestedMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range selector {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%v, Service label %q", k, v, svc.Labels[k])
		}
	}
	if svc.Spec.Ports[0].Port != 8443 || svc.Spec.Ports[0].TargetPort != intstr.FromString("metrics") {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
}

// Options that turn things off.
func TestTemplateSwitches(t *testing.T) {
	helmBinary(t) // skip the subtests at once without helm
	t.Run("no leader election", func(t *testing.T) {
		r := render(t, "--set", "leaderElection.enabled=false")
		if flags := flagValues(manager(t, r.deployment(t)).Args); flags["leader-elect"] != nil {
			t.Errorf("--leader-elect rendered with leaderElection.enabled=false")
		}
		if n := len(r.find("Role", "")) + len(r.find("RoleBinding", "")); n != 0 {
			t.Errorf("leader-election Role/RoleBinding rendered without leader election: %s", r.summary())
		}
	})
	t.Run("metrics off", func(t *testing.T) {
		r := render(t, "--set", "metrics.enabled=false")
		c := manager(t, r.deployment(t))
		if flags := flagValues(c.Args); !reflect.DeepEqual(flags["metrics-bind-address"], []string{"0"}) || flags["metrics-secure"] != nil {
			t.Errorf("metrics off: flags %v", c.Args)
		}
		for _, p := range c.Ports {
			if p.Name == "metrics" {
				t.Errorf("metrics port exposed with metrics off")
			}
		}
		if len(r.find("Service", ""))+len(r.find("ServiceMonitor", "")) != 0 || len(r.find("ClusterRole", "lcft-operator-metrics-auth")) != 0 {
			t.Errorf("metrics objects with metrics off: %s", r.summary())
		}
	})
	t.Run("metrics over http", func(t *testing.T) {
		r := render(t, "--set", "metrics.secure=false", "--set", "serviceMonitor.enabled=true")
		if flags := flagValues(manager(t, r.deployment(t)).Args); !reflect.DeepEqual(flags["metrics-secure"], []string{"false"}) {
			t.Errorf("--metrics-secure=%v", flags["metrics-secure"])
		}
		if len(r.find("ClusterRole", "lcft-operator-metrics-auth")) != 0 {
			t.Errorf("metrics-auth ClusterRole without secure metrics")
		}
		sm := r.find("ServiceMonitor", "")
		if len(sm) != 1 {
			t.Fatalf("no ServiceMonitor: %s", r.summary())
		}
		endpoints, _, _ := unstructured.NestedSlice(sm[0].obj.Object, "spec", "endpoints")
		if len(endpoints) != 1 || endpoints[0].(map[string]any)["scheme"] != "http" {
			t.Errorf("ServiceMonitor endpoints %v, want one with scheme http", endpoints)
		}
	})
	t.Run("hostNetwork alone", func(t *testing.T) {
		r := render(t, "--set", "hostNetwork=true")
		d := r.deployment(t)
		if !d.Spec.Template.Spec.HostNetwork || len(manager(t, d).Env) != 1 {
			t.Errorf("hostNetwork=true: hostNetwork %v env %v", d.Spec.Template.Spec.HostNetwork, manager(t, d).Env)
		}
		assertRestricted(t, &d.Spec.Template.Spec)
	})
	for _, tc := range []struct {
		name string
		args []string
		want []corev1.EnvVar
	}{
		{"GOMEMLIMIT of a 1Gi limit", []string{"--set", "resources.limits.memory=1Gi", "--set", "tuning.goMemLimitPercent=50"},
			[]corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "536870900"}}},
		{"GOMEMLIMIT of a limit in bytes", []string{"--set", "resources.limits.memory=300000000"},
			[]corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "270000000"}}},
		{"GOMEMLIMIT off", []string{"--set", "tuning.goMemLimitPercent=0"}, nil},
		{"GOMEMLIMIT without a memory limit", []string{"--set", "resources.limits.memory=null"}, nil},
		{"GOMEMLIMIT of extraEnv", []string{"--set", "extraEnv[0].name=GOMEMLIMIT", "--set", "extraEnv[0].value=100MiB"},
			[]corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "100MiB"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, manager(t, render(t, tc.args...).deployment(t)).Env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("existing service account", func(t *testing.T) {
		r := render(t, "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=ops")
		if len(r.find("ServiceAccount", "")) != 0 || r.deployment(t).Spec.Template.Spec.ServiceAccountName != "ops" {
			t.Errorf("serviceAccount.create=false: %s", r.summary())
		}
		var b rbacv1.ClusterRoleBinding
		r.one(t, "ClusterRoleBinding", "lcft-operator-manager", &b)
		if b.Subjects[0].Name != "ops" {
			t.Errorf("binding subject %+v", b.Subjects)
		}
	})
	t.Run("trainer follows image.tag", func(t *testing.T) {
		r := render(t, "--set", "image.tag=v9.9.9")
		c := manager(t, r.deployment(t))
		if c.Image != "ghcr.io/lcft-dev/lcft-operator:v9.9.9" ||
			!reflect.DeepEqual(flagValues(c.Args)["trainer-image"], []string{"ghcr.io/lcft-dev/lcft-trainer:v9.9.9"}) {
			t.Errorf("image %s args %v", c.Image, c.Args)
		}
	})
}

// values.schema.json and the templates' own checks refuse bad values.
func TestValuesRejected(t *testing.T) {
	helmBinary(t) // skip the subtests at once without helm
	for _, tc := range []struct {
		name string
		args []string
		want string // in helm's error output
	}{
		{"replicaCount not a number", []string{"--set", "replicaCount=abc"}, "/replicaCount"},
		{"negative replicas", []string{"--set", "replicaCount=-1"}, "/replicaCount"},
		{"unknown top-level key", []string{"--set", "replicas=2"}, "'replicas' not allowed"},
		{"unknown nested key", []string{"--set", "image.digest=sha256:00"}, "'digest' not allowed"},
		{"bad pull policy", []string{"--set", "image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{"unknown pool", []string{"--set", "poolMap.riscv64.kubernetes\\.io/arch=riscv64"}, "'riscv64' not allowed"},
		{"bad selector value", []string{"--set", "poolMap.arm64.pool=not valid"}, "/poolMap/arm64/pool"},
		{"port out of range", []string{"--set", "metrics.port=70000"}, "/metrics/port"},
		{"hostNetwork not a bool", []string{"--set-string", "hostNetwork=yes"}, "/hostNetwork"},
		{"bad artifact URI", []string{"--set", "artifactURI=/data"}, "/artifactURI"},
		{"bad service type", []string{"--set", "metrics.service.type=ExternalName"}, "/metrics/service/type"},
		{"no workers", []string{"--set", "tuning.maxConcurrentReconciles=0"}, "/tuning/maxConcurrentReconciles"},
		{"zero client rate", []string{"--set", "tuning.kubeAPIQPS=0"}, "/tuning/kubeAPIQPS"},
		{"GOMEMLIMIT over the limit", []string{"--set", "tuning.goMemLimitPercent=101"}, "/tuning/goMemLimitPercent"},
		{"GOMEMLIMIT of a fractional limit", []string{"--set", "resources.limits.memory=0.5Gi"}, "as an integer"},
		{"extraArgs not flags", []string{"--set", "extraArgs[0]=debug"}, "/extraArgs/0"},
		{"replicas without leader election", []string{"--set", "replicaCount=2", "--set", "leaderElection.enabled=false"}, "leaderElection"},
		{"serviceMonitor without metrics", []string{"--set", "serviceMonitor.enabled=true", "--set", "metrics.enabled=false"}, "metrics.enabled"},
		{"same metrics and probe port", []string{"--set", "metrics.port=8081"}, "must differ"},
		{"no service account name", []string{"--set", "serviceAccount.create=false"}, "serviceAccount.name"},
	} {
		t.Run(tc.name, func(t *testing.T) { templateFails(t, tc.args, tc.want) })
	}
	// kubeVersion ">=1.30.0-0".
	res := runHelm(t, "template", releaseName, chartDir(t), "--kube-version", "1.29.9")
	if res.err == nil || !strings.Contains(res.stderr, "kubeVersion") {
		t.Errorf("Kubernetes 1.29 accepted (err %v):\n%s", res.err, res.stderr)
	}
}

// Every flag that the chart can render is a flag of the manager (main.go), so
// a renamed flag fails here and not in a crash-looping pod.
func TestFlagsExistInManager(t *testing.T) {
	known := managerFlags(t)
	for _, args := range [][]string{nil, {"-f", fullValues}, {"--set", "metrics.enabled=false"}} {
		c := manager(t, render(t, args...).deployment(t))
		for name := range flagValues(c.Args) {
			if !known[name] {
				t.Errorf("values %v render --%s, which the manager does not define (known: %v)", args, name, slices.Sorted(maps.Keys(known)))
			}
		}
	}
}

// managerFlags reads the flag names that the manager's main package defines
// (flag.XxxVar(&v, "name", ...) and flag.Xxx("name", ...)), plus zap's.
func managerFlags(t *testing.T) map[string]bool {
	t.Helper()
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "flag" {
				return true
			}
			idx := 0
			if strings.HasSuffix(sel.Sel.Name, "Var") {
				idx = 1
			}
			if len(call.Args) > idx {
				if lit, ok := call.Args[idx].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if name, err := strconv.Unquote(lit.Value); err == nil {
						known[name] = true
					}
				}
			}
			return true
		})
	}
	for _, must := range []string{"leader-elect", "trainer-image", "pool-map-file"} {
		if !known[must] {
			t.Fatalf("found no --%s in the manager's *.go files (found %v): has flag parsing moved?", must, slices.Sorted(maps.Keys(known)))
		}
	}
	fs := flag.NewFlagSet("zap", flag.ContinueOnError)
	(&zap.Options{}).BindFlags(fs)
	fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
	return known
}

// templateFails renders the chart with extra helm arguments, expects helm
// to refuse them with an error mentioning want, and returns that error.
func templateFails(t *testing.T, extra []string, want string) string {
	t.Helper()
	args := append([]string{"template", releaseName, chartDir(t), "--namespace", namespace, "--kube-version", kubeVersion}, extra...)
	res := runHelm(t, args...)
	if res.err == nil {
		t.Fatalf("helm template %v succeeded; want an error", extra)
	}
	if !strings.Contains(res.stderr, want) {
		t.Errorf("error does not mention %q:\n%s", want, res.stderr)
	}
	return res.stderr
}

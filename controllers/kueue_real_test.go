package controllers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// The real Kueue admits a queued GlobalModel's Job: Kueue's manager (built
// by hack/kueue/build.sh; LCFT_KUEUE_DIR=bin/kueue-v0.17.0) runs as a
// process against the test's API server, with its CRDs, its internal cert
// management (the test plays the kubelet's mount of the certificate
// Secret), its webhook configurations made to match no object (nothing
// here routes the API server to the webhook server), a ResourceFlavor
// arm64, a ClusterQueue and a LocalQueue. The operator creates the Job
// suspended, so Kueue's Job reconciler alone admits it: it unsuspends it
// and puts the flavor's nodeLabels in its node selector, and the model
// says Admitted with arch arm64. Skipped without LCFT_KUEUE_DIR.
func TestRealKueueAdmitsQueuedModel(t *testing.T) {
	needEnv(t)
	dir := os.Getenv("LCFT_KUEUE_DIR")
	if dir == "" {
		t.Skip("LCFT_KUEUE_DIR (the output of hack/kueue/build.sh) is unset")
	}
	ctx := context.Background()
	if _, err := envtest.InstallCRDs(restConfig, envtest.CRDInstallOptions{Paths: []string{filepath.Join(dir, "kueue.yaml")}}); err != nil {
		t.Fatalf("installing Kueue's CRDs: %v", err)
	}
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kueue-system"}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: restConfig.CertData, ClientKeyData: restConfig.KeyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	installKueueWebhooks(t, filepath.Join(dir, "kueue.yaml"))
	cfg := "apiVersion: config.kueue.x-k8s.io/v1beta2\nkind: Configuration\nnamespace: kueue-system\n" +
		"health: {healthProbeBindAddress: \":18081\"}\nmetrics: {bindAddress: \"0\"}\n" +
		"webhook: {port: 19443, certDir: " + filepath.Join(tmp, "certs") + "}\nleaderElection: {leaderElect: false}\n" +
		"internalCertManagement: {enable: true}\nintegrations: {frameworks: [batch/job]}\n"
	if err := os.WriteFile(filepath.Join(tmp, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(tmp, "kueue.log"))
	if err != nil {
		t.Fatal(err)
	}
	mgr := exec.Command(filepath.Join(dir, "manager"), "--config", filepath.Join(tmp, "config.yaml"), "--zap-log-level=2", "--feature-gates=VisibilityOnDemand=false")
	mgr.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	mgr.Stdout, mgr.Stderr = logFile, logFile
	if err := mgr.Start(); err != nil {
		t.Fatalf("starting Kueue: %v", err)
	}
	t.Cleanup(func() {
		_ = mgr.Process.Kill()
		_, _ = mgr.Process.Wait()
		if t.Failed() {
			raw, _ := os.ReadFile(logFile.Name())
			lines := strings.Split(string(raw), "\n")
			t.Logf("Kueue's log (last 40 lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})

	mountCertSecret(t, filepath.Join(tmp, "certs"))
	ns := newNamespace(t)
	for _, doc := range []string{
		"apiVersion: kueue.x-k8s.io/v1beta2\nkind: ResourceFlavor\nmetadata: {name: real-arm64}\nspec: {nodeLabels: {kubernetes.io/arch: arm64}}",
		"apiVersion: kueue.x-k8s.io/v1beta2\nkind: ClusterQueue\nmetadata: {name: real}\nspec:\n  namespaceSelector: {}\n  resourceGroups:\n" +
			"  - coveredResources: [cpu, memory]\n    flavors:\n    - name: real-arm64\n      resources: [{name: cpu, nominalQuota: '1'}, {name: memory, nominalQuota: 4Gi}]",
		"apiVersion: kueue.x-k8s.io/v1beta2\nkind: LocalQueue\nmetadata: {name: lq, namespace: " + ns + "}\nspec: {clusterQueue: real}",
	} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if err := k8sClient.Create(ctx, u); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	newFakeCluster(t, ns)
	startManager(t)
	gm := modelObj(ns, "wd")
	gm.Labels = map[string]string{QueueNameLabel: "lq"}
	create(t, gm)
	waitModel(t, gm)
	admitted := checkCondition(t, gm.Name, gm.Status.Conditions, v1.ConditionAdmitted, metav1.ConditionTrue, ReasonAdmittedByKueue, gm.Generation)
	if adm := gm.Status.Admission; adm == nil || *adm != (v1.Admission{LocalQueue: "lq", Admitted: true, Arch: "arm64"}) {
		t.Errorf("admission %+v; want lq, admitted, arm64 (the flavor's nodeLabels)", adm)
	}
	t.Logf("Admitted: %s", admitted.Message)
}

// installKueueWebhooks creates Kueue's webhook configurations from its
// manifests with selectors that match no object (the API server here
// cannot reach the webhook server), and its certificate Secret: Kueue's
// internal cert management fills them in before it starts its controllers.
func installKueueWebhooks(t *testing.T, manifests string) {
	t.Helper()
	raw, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		switch u.GetKind() {
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
			for _, h := range hooks {
				never := map[string]any{"matchLabels": map[string]any{"lcft.dev/kueue-webhooks": "never"}}
				h.(map[string]any)["namespaceSelector"], h.(map[string]any)["objectSelector"] = never, never
			}
			if err := unstructured.SetNestedSlice(u.Object, hooks, "webhooks"); err != nil {
				t.Fatal(err)
			}
		case "Secret":
		default:
			continue
		}
		if err := k8sClient.Create(context.Background(), u); client.IgnoreAlreadyExists(err) != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// mountCertSecret plays the kubelet's secret volume of Kueue's pod: once
// Kueue's cert rotator wrote its certificate Secret, its files go into dir,
// where the rotator waits for them.
func mountCertSecret(t *testing.T, dir string) {
	t.Helper()
	sec := &corev1.Secret{}
	eventually(t, runTimeout, "Kueue's webhook certificate", func() (bool, error) {
		err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: "kueue-system", Name: "kueue-webhook-server-cert"}, sec)
		return err == nil && len(sec.Data["tls.crt"]) > 0, err
	})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range sec.Data {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

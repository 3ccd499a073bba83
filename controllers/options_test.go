package controllers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

func TestLoadPoolMap(t *testing.T) {
	got, err := LoadPoolMap("arm64=node.example.com/pool=graviton", "")
	if err != nil {
		t.Fatal(err)
	}
	want := PoolMap{v1.PoolARM64: {"node.example.com/pool": "graviton"}, v1.PoolAMD64: {ArchLabel: "amd64"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pool map (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"arm64", "riscv=a=b", "arm64=bad key!=x"} {
		if _, err := LoadPoolMap(bad, ""); err == nil {
			t.Errorf("--pool-map %q was accepted", bad)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The operator's default pod template (--trainer-pod-template-file, the
// chart's trainer.podTemplate) is read, checked, and merged under an object's.
func TestLoadTrainerPodTemplate(t *testing.T) {
	path := writeFile(t, "pod-template.yaml", `
labels: {team: platform}
serviceAccountName: lcft-trainer
imagePullSecrets: [{name: regcred}]
env:
  - {name: AWS_REGION, value: eu-west-1}
  - name: AWS_SECRET_ACCESS_KEY
    valueFrom: {secretKeyRef: {name: s3, key: secret}}
envFrom:
  - secretRef: {name: s3-default}
volumes:
  - name: data
    persistentVolumeClaim: {claimName: datasets}
volumeMounts:
  - {name: data, mountPath: /data, readOnly: true}
securityContext: {fsGroup: 3000, supplementalGroups: [4000]}
`)
	got, err := LoadTrainerPodTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &v1.TrainerPodTemplate{
		Labels:             map[string]string{"team": "platform"},
		ServiceAccountName: "lcft-trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
		Env:                []corev1.EnvVar{{Name: "AWS_REGION", Value: "eu-west-1"}, secretEnv("AWS_SECRET_ACCESS_KEY", "s3", "secret")},
		EnvFrom:            []corev1.EnvFromSource{secretEnvFrom("s3-default")},
		Volumes:            []corev1.Volume{pvcVolume("data", "datasets")},
		VolumeMounts:       []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
		SecurityContext:    &v1.TrainerSecurityContext{FSGroup: ptr.To[int64](3000), SupplementalGroups: []int64{4000}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded template (-want +got):\n%s", diff)
	}

	// An object's template merges over it: the object wins per key and name.
	merged, err := mergePodTemplates(got, &v1.TrainerPodTemplate{
		Labels:          map[string]string{"team": "ml"},
		Env:             []corev1.EnvVar{secretEnv("AWS_SECRET_ACCESS_KEY", "team-s3", "secret")},
		SecurityContext: &v1.TrainerSecurityContext{FSGroup: ptr.To[int64](5000)},
	}, "spec.podTemplate")
	if err != nil {
		t.Fatal(err)
	}
	if merged.Labels["team"] != "ml" || merged.ServiceAccountName != "lcft-trainer" ||
		!cmp.Equal(merged.Env[1], secretEnv("AWS_SECRET_ACCESS_KEY", "team-s3", "secret")) || len(merged.Env) != 2 ||
		*merged.SecurityContext.FSGroup != 5000 || merged.SecurityContext.SupplementalGroups[0] != 4000 {
		t.Errorf("object over default: %+v", merged)
	}

	if got, err := LoadTrainerPodTemplate(""); got != nil || err != nil {
		t.Errorf("no file: %+v, %v", got, err)
	}
	for name, content := range map[string]string{
		"reserved env":     "env: [{name: LCFT_SHARD_COUNT, value: '1'}]",
		"hostPath":         "volumes: [{name: host, hostPath: {path: /}}]",
		"root":             "securityContext: {runAsUser: 0}",
		"operator label":   "labels: {app.kubernetes.io/managed-by: me}",
		"unknown field":    "privileged: true",
		"mount at /tmp":    "volumes: [{name: d, emptyDir: {}}]\nvolumeMounts: [{name: d, mountPath: /tmp}]",
		"not a template":   "- a list",
		"reserved volume":  "volumes: [{name: scratch, emptyDir: {}}]",
		"mount, no volume": "volumeMounts: [{name: nowhere, mountPath: /data}]",
	} {
		if _, err := LoadTrainerPodTemplate(writeFile(t, "bad.yaml", content)); err == nil {
			t.Errorf("%s: the file was accepted:\n%s", name, content)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := LoadTrainerPodTemplate(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Errorf("a missing file was accepted")
	}
}

func TestLoadTrainerResources(t *testing.T) {
	got, err := LoadTrainerResources(writeFile(t, "resources.yaml", "requests: {cpu: '1', memory: 1Gi}\nlimits: {memory: 4Gi}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests.Cpu().String() != "1" || got.Limits.Memory().String() != "4Gi" {
		t.Errorf("resources %+v", got)
	}
	// The operator's default applies when the object has none; the trainer learns the limit.
	r := testRun(v1.Placement{})
	objs, err := buildRun(r, Options{TrainerImage: "img", TrainerResources: got})
	if err != nil {
		t.Fatal(err)
	}
	c := objs.job.Spec.Template.Spec.Containers[0]
	if c.Resources.Limits.Memory().String() != "4Gi" || !cmp.Equal(c.Env[1], memoryLimitEnv()) {
		t.Errorf("resources %+v env %+v", c.Resources, c.Env)
	}
	r.placement.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
	if objs, _ = buildRun(r, Options{TrainerImage: "img", TrainerResources: got}); objs.job.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("the object's resources should win over the operator's default")
	}
	for name, content := range map[string]string{
		"request above limit": "requests: {memory: 2Gi}\nlimits: {memory: 1Gi}",
		"negative":            "requests: {cpu: '-1'}",
		"unknown field":       "request: {cpu: '1'}",
	} {
		if _, err := LoadTrainerResources(writeFile(t, "bad.yaml", content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

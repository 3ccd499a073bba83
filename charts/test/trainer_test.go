package charttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/controllers"
)

// checkTrainerConfig checks the trainer ConfigMap of the full values: mounted
// where the flags point, and read by the manager's own loaders as the values say.
func checkTrainerConfig(t *testing.T, r *rendered, d *appsv1.Deployment, flags map[string][]string) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := manager(t, d)
	var cm corev1.ConfigMap
	r.one(t, "ConfigMap", "lcft-operator-trainer", &cm)
	dir := t.TempDir()
	read := func(flag string) string {
		t.Helper()
		file := flags[flag][0]
		var mounted bool
		for _, m := range c.VolumeMounts {
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name && filepath.Join(m.MountPath, filepath.Base(file)) == file && m.ReadOnly {
					mounted = true
				}
			}
		}
		if !mounted {
			t.Errorf("ConfigMap %s is not mounted read-only at %s", cm.Name, file)
		}
		data, ok := cm.Data[filepath.Base(file)]
		if !ok {
			t.Fatalf("ConfigMap %s has no key %s: %v", cm.Name, filepath.Base(file), cm.Data)
		}
		path := filepath.Join(dir, filepath.Base(file))
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tmpl, err := controllers.LoadTrainerPodTemplate(read("trainer-pod-template-file"))
	if err != nil {
		t.Fatalf("the manager rejects the rendered pod template: %v", err)
	}
	want := &finetunev1alpha1.TrainerPodTemplate{
		Labels:             map[string]string{"example.com/team": "ml"},
		Annotations:        map[string]string{"example.com/cost-center": "42"},
		ServiceAccountName: "lcft-trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "trainer-registry"}},
		Env: []corev1.EnvVar{
			{Name: "AWS_REGION", Value: "eu-west-1"},
			{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "s3-credentials"}, Key: "secret"}}},
		},
		EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s3-endpoint"}}}},
		Volumes: []corev1.Volume{{Name: "datasets", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "datasets", ReadOnly: true}}}},
		VolumeMounts:    []corev1.VolumeMount{{Name: "datasets", MountPath: "/data", ReadOnly: true}},
		SecurityContext: &finetunev1alpha1.TrainerSecurityContext{FSGroup: ptr.To[int64](2000), FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch)},
	}
	if diff := cmp.Diff(want, tmpl); diff != "" {
		t.Errorf("the pod template as the manager reads it (-want +got):\n%s", diff)
	}
	res, err := controllers.LoadTrainerResources(read("trainer-resources-file"))
	if err != nil {
		t.Fatalf("the manager rejects the rendered resources: %v", err)
	}
	if res.Requests.Cpu().String() != "1" || res.Requests.Memory().String() != "1Gi" || res.Limits.Memory().String() != "4Gi" {
		t.Errorf("trainer resources as the manager reads them: %+v", res)
	}
	if d.Spec.Template.Annotations["checksum/trainer"] == "" {
		t.Errorf("no checksum/trainer annotation: a changed trainer template would not restart the manager")
	}
}

// values.schema.json refuses a trainer pod template that the CRDs would
// refuse on an object (the manager checks the file again when it starts).
func TestTrainerValuesRejected(t *testing.T) {
	helmBinary(t) // skip the subtests at once without helm
	for _, tc := range []struct {
		name string
		args []string
		want string // in helm's error output
	}{
		{"trainer env reserved", []string{"--set", "trainer.podTemplate.env[0].name=LCFT_SHARD_COUNT", "--set-string", "trainer.podTemplate.env[0].value=1"}, "/trainer/podTemplate/env/0/name"},
		{"trainer hostPath volume", []string{"--set", "trainer.podTemplate.volumes[0].name=host", "--set", "trainer.podTemplate.volumes[0].hostPath.path=/"}, "/trainer/podTemplate/volumes/0"},
		{"trainer nfs volume", []string{"--set", "trainer.podTemplate.volumes[0].name=share", "--set", "trainer.podTemplate.volumes[0].nfs.server=nfs"}, "/trainer/podTemplate/volumes/0"},
		{"trainer reserved volume", []string{"--set", "trainer.podTemplate.volumes[0].name=scratch", "--set", "trainer.podTemplate.volumes[0].emptyDir.medium=Memory"}, "/trainer/podTemplate/volumes/0/name"},
		{"trainer mount at /tmp", []string{"--set", "trainer.podTemplate.volumeMounts[0].name=d", "--set", "trainer.podTemplate.volumeMounts[0].mountPath=/tmp"}, "/trainer/podTemplate/volumeMounts/0/mountPath"},
		{"trainer as root", []string{"--set", "trainer.podTemplate.securityContext.runAsUser=0"}, "/trainer/podTemplate/securityContext/runAsUser"},
		{"trainer runAsNonRoot false", []string{"--set", "trainer.podTemplate.securityContext.runAsNonRoot=false"}, "/trainer/podTemplate/securityContext/runAsNonRoot"},
		{"trainer operator label", []string{"--set", "trainer.podTemplate.labels.finetune\\.lcft\\.dev/owner-name=x"}, "invalid propertyName 'finetune.lcft.dev/owner-name'"},
		{"trainer privileged", []string{"--set", "trainer.podTemplate.securityContext.privileged=true"}, "'privileged' not allowed"},
		{"trainer unknown key", []string{"--set", "trainer.podTemplate.hostNetwork=true"}, "'hostNetwork' not allowed"},
		{"trainer resources not a quantity", []string{"--set", "trainer.resources.limits.memory=lots"}, "/trainer/resources/limits/memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := templateFails(t, tc.args, tc.want)
			t.Logf("%s: %s", tc.name, strings.TrimSpace(stderr))
		})
	}
}

// Only the values that are set are rendered: a pod template alone gives the
// ConfigMap with one key and one flag.
func TestTemplateTrainerPodTemplateAlone(t *testing.T) {
	r := render(t, "--set", "trainer.podTemplate.serviceAccountName=lcft-trainer")
	c := manager(t, r.deployment(t))
	flags := flagValues(c.Args)
	if flags["trainer-pod-template-file"] == nil || flags["trainer-resources-file"] != nil {
		t.Errorf("flags %v: want --trainer-pod-template-file only", c.Args)
	}
	var cm corev1.ConfigMap
	r.one(t, "ConfigMap", "lcft-operator-trainer", &cm)
	if _, ok := cm.Data["resources.yaml"]; ok || len(cm.Data) != 1 {
		t.Errorf("ConfigMap data %v: want pod-template.yaml only", cm.Data)
	}
	path := filepath.Join(t.TempDir(), "pod-template.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["pod-template.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if tmpl, err := controllers.LoadTrainerPodTemplate(path); err != nil || tmpl.ServiceAccountName != "lcft-trainer" {
		t.Errorf("the manager reads %+v (%v)", tmpl, err)
	}
}

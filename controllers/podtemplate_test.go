package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

func secretEnvFrom(secret string) corev1.EnvFromSource {
	return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}
}

func pvcVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

// memoryLimitEnv is how the trainer learns its memory limit (runspec.EnvMemoryLimit).
func memoryLimitEnv() corev1.EnvVar {
	return corev1.EnvVar{Name: "LCFT_MEMORY_LIMIT", ValueFrom: &corev1.EnvVarSource{
		ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "trainer", Resource: "limits.memory"}}}
}

// operatorDefault is an operator-wide template as the chart would render it.
func operatorDefault() *v1.TrainerPodTemplate {
	return &v1.TrainerPodTemplate{
		Labels:             map[string]string{"team": "platform", "cost-center": "7"},
		ServiceAccountName: "lcft-trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
		Env:                []corev1.EnvVar{{Name: "AWS_REGION", Value: "eu-west-1"}, {Name: "AWS_ENDPOINT_URL", Value: "http://s3.default"}},
		EnvFrom:            []corev1.EnvFromSource{secretEnvFrom("s3-default")},
		Volumes:            []corev1.Volume{pvcVolume("data", "datasets")},
		VolumeMounts:       []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
		SecurityContext:    &v1.TrainerSecurityContext{FSGroup: ptr.To[int64](3000), SupplementalGroups: []int64{4000}},
	}
}

func TestMergePodTemplates(t *testing.T) {
	obj := &v1.TrainerPodTemplate{
		Labels:           map[string]string{"team": "ml"},
		Annotations:      map[string]string{"example.com/owner": "ml"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "team-registry"}},
		Env:              []corev1.EnvVar{{Name: "AWS_ENDPOINT_URL", Value: "http://s3.team"}, secretEnv("TOKEN", "team-token", "token")},
		EnvFrom:          []corev1.EnvFromSource{secretEnvFrom("s3-team")},
		VolumeMounts:     []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "data", MountPath: "/more"}},
		SecurityContext:  &v1.TrainerSecurityContext{RunAsUser: ptr.To[int64](1000)},
	}
	got, err := mergePodTemplates(operatorDefault(), obj, "spec.podTemplate")
	if err != nil {
		t.Fatal(err)
	}
	want := &v1.TrainerPodTemplate{
		Labels:             map[string]string{"team": "ml", "cost-center": "7"},
		Annotations:        map[string]string{"example.com/owner": "ml"},
		ServiceAccountName: "lcft-trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "team-registry"}},
		// The object's AWS_ENDPOINT_URL replaces the default's in place.
		Env:          []corev1.EnvVar{{Name: "AWS_REGION", Value: "eu-west-1"}, {Name: "AWS_ENDPOINT_URL", Value: "http://s3.team"}, secretEnv("TOKEN", "team-token", "token")},
		EnvFrom:      []corev1.EnvFromSource{secretEnvFrom("s3-default"), secretEnvFrom("s3-team")},
		Volumes:      []corev1.Volume{pvcVolume("data", "datasets")},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "data", MountPath: "/more"}},
		SecurityContext: &v1.TrainerSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](3000),
			SupplementalGroups: []int64{4000}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged template (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(operatorDefault(), func() *v1.TrainerPodTemplate { d := operatorDefault(); _, _ = mergePodTemplates(d, obj, "x"); return d }()); diff != "" {
		t.Errorf("merging modified the default:\n%s", diff)
	}

	// Either side alone is itself; neither is nil.
	if got, err := mergePodTemplates(nil, nil, "spec.podTemplate"); got != nil || err != nil {
		t.Errorf("no templates: %+v, %v", got, err)
	}
	if got, _ := mergePodTemplates(operatorDefault(), nil, "spec.podTemplate"); !cmp.Equal(got, operatorDefault()) {
		t.Errorf("the default alone changed: %+v", got)
	}

	// A mount needs a volume of one of the templates; a bad object is refused with its path.
	for _, bad := range []*v1.TrainerPodTemplate{
		{VolumeMounts: []corev1.VolumeMount{{Name: "nowhere", MountPath: "/x"}}},
		{Env: []corev1.EnvVar{{Name: "LCFT_SHARD_COUNT", Value: "1"}}},
		{Labels: map[string]string{"bad label": "x"}},
	} {
		if _, err := mergePodTemplates(operatorDefault(), bad, "spec.podTemplate"); err == nil || !strings.Contains(err.Error(), "spec.podTemplate") {
			t.Errorf("merging %+v: want an error naming spec.podTemplate, got %v", bad, err)
		} else {
			t.Logf("refused: %v", err)
		}
	}
}

func TestBuildRunAppliesPodTemplateOverRestrictedDefaults(t *testing.T) {
	opts := Options{TrainerImage: "img", Pools: DefaultPoolMap()}
	plain, err := buildRun(testRun(v1.Placement{}), opts)
	if err != nil {
		t.Fatal(err)
	}
	r := testRun(v1.Placement{})
	r.podTemplate, err = mergePodTemplates(operatorDefault(), &v1.TrainerPodTemplate{
		Annotations:     map[string]string{"example.com/owner": "ml"},
		Env:             []corev1.EnvVar{secretEnv("AWS_SECRET_ACCESS_KEY", "s3", "secret")},
		SecurityContext: &v1.TrainerSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000)},
	}, "spec.podTemplate")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := buildRun(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, base := objs.job.Spec.Template, plain.job.Spec.Template

	// What the template adds, on top of the operator's pod.
	want := base.DeepCopy()
	want.Labels["team"], want.Labels["cost-center"] = "platform", "7"
	want.Annotations["example.com/owner"] = "ml"
	want.Annotations[RunHashAnnotation] = objs.hash
	want.Spec.ServiceAccountName = "lcft-trainer"
	want.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	want.Spec.SecurityContext.RunAsUser = ptr.To[int64](1000)
	want.Spec.SecurityContext.RunAsGroup = ptr.To[int64](1000)
	want.Spec.SecurityContext.FSGroup = ptr.To[int64](3000)
	want.Spec.SecurityContext.SupplementalGroups = []int64{4000}
	c := &want.Spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: "AWS_REGION", Value: "eu-west-1"}, corev1.EnvVar{Name: "AWS_ENDPOINT_URL", Value: "http://s3.default"},
		secretEnv("AWS_SECRET_ACCESS_KEY", "s3", "secret"))
	c.EnvFrom = []corev1.EnvFromSource{secretEnvFrom("s3-default")}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true})
	// The template's volumes come before the run spec's volume, named after the hash.
	runSpec := want.Spec.Volumes[len(want.Spec.Volumes)-1]
	runSpec.ConfigMap.Name = objs.job.Name
	want.Spec.Volumes = append(want.Spec.Volumes[:len(want.Spec.Volumes)-1], pvcVolume("data", "datasets"), runSpec)
	if diff := cmp.Diff(*want, got); diff != "" {
		t.Errorf("pod template (-want +got):\n%s", diff)
	}

	// The restricted settings are the operator's, whatever the template.
	pod := got.Spec
	if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *pod.AutomountServiceAccountToken {
		t.Errorf("pod security context %+v, automount %v", pod.SecurityContext, *pod.AutomountServiceAccountToken)
	}
	sc := pod.Containers[0].SecurityContext
	if *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !*sc.RunAsNonRoot || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	// The operator's env comes first; the scratch space is bounded.
	if pod.Containers[0].Env[0].Name != "LCFT_SHARD_COUNT" || !cmp.Equal(pod.Containers[0].Env[1], memoryLimitEnv()) {
		t.Errorf("env %+v: the operator's variables must come first", pod.Containers[0].Env)
	}
	for _, v := range pod.Volumes {
		if v.Name == "scratch" && (v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.String() != "1Gi") {
			t.Errorf("scratch volume %+v: want sizeLimit 1Gi", v)
		}
	}
	// The run spec carries no part of the pod template.
	for _, s := range []string{"AWS_", "s3-default", "lcft-trainer", "regcred"} {
		if strings.Contains(objs.configMap.Data[specKey], s) {
			t.Errorf("the run spec ConfigMap contains %q:\n%s", s, objs.configMap.Data[specKey])
		}
	}
}

func TestRunHashCoversStorageNotIdentity(t *testing.T) {
	opts := Options{TrainerImage: "img", Pools: DefaultPoolMap()}
	build := func(tmpl *v1.TrainerPodTemplate) *runObjects {
		t.Helper()
		r := testRun(v1.Placement{})
		r.podTemplate = tmpl
		objs, err := buildRun(r, opts)
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	base := build(operatorDefault())
	identity := operatorDefault()
	identity.Env = append(identity.Env, secretEnv("AWS_SECRET_ACCESS_KEY", "rotated", "secret"))
	identity.ServiceAccountName = "other"
	identity.Labels["extra"] = "x"
	sameRun := build(identity)
	if sameRun.job.Name != base.job.Name {
		t.Errorf("new credentials made a new run: %s vs %s", sameRun.job.Name, base.job.Name)
	}
	if sameRun.job.Annotations[PodTemplateHashAnnotation] == base.job.Annotations[PodTemplateHashAnnotation] {
		t.Errorf("the pod identity hash did not change with the credentials")
	}
	storage := operatorDefault()
	storage.Volumes[0].PersistentVolumeClaim.ClaimName = "other-datasets"
	if other := build(storage); other.job.Name == base.job.Name {
		t.Errorf("another volume behind /data kept the run %s", other.job.Name)
	}
	if build(nil).job.Name == base.job.Name {
		t.Errorf("a pod template with a volume kept the name of the run without one")
	}
}

func TestRequiredSecrets(t *testing.T) {
	tmpl := &v1.TrainerPodTemplate{
		Env: []corev1.EnvVar{
			secretEnv("KEY", "s3", "key"),
			secretEnv("SECRET", "s3", "secret"), // the same Secret once
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "maybe"}, Key: "k", Optional: ptr.To(true)}}},
			{Name: "FROM_CONFIG", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"}}},
		},
		EnvFrom: []corev1.EnvFromSource{secretEnvFrom("bulk"), {SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "optional-bulk"}, Optional: ptr.To(true)}}},
		Volumes: []corev1.Volume{
			{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
			{Name: "bundle", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "projected"}}},
			}}}},
		},
	}
	got := requiredSecrets(tmpl)
	want := []secretRef{{"bulk", "envFrom[0].secretRef"}, {"s3", "env KEY"}, {"tls", "volume certs"}, {"projected", "volume bundle"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(secretRef{})); diff != "" {
		t.Errorf("required Secrets (-want +got):\n%s", diff)
	}
	if requiredSecrets(nil) != nil {
		t.Errorf("a nil template requires Secrets")
	}
}

func TestStripSecretKeepsOnlyNames(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "s3", Namespace: "ns", Annotations: map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"key":"QUtJQQ=="}}`}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	pm := &metav1.PartialObjectMetadata{ObjectMeta: *meta.DeepCopy()}
	if _, err := stripSecret(pm); err != nil || pm.Annotations != nil || pm.ManagedFields != nil || pm.Name != "s3" {
		t.Errorf("stripped metadata: %+v (%v)", pm.ObjectMeta, err)
	}
	s := &corev1.Secret{ObjectMeta: *meta.DeepCopy(), Data: map[string][]byte{"key": []byte("AKIA")}, StringData: map[string]string{"k": "v"}}
	if _, err := stripSecret(s); err != nil || s.Data != nil || s.StringData != nil || s.Annotations != nil {
		t.Errorf("stripped Secret: %+v (%v)", s, err)
	}
}

func TestFailedWithOtherIdentity(t *testing.T) {
	job := func(failed bool, generation, identity string) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			OwnerGenerationAnnotation: generation, PodTemplateHashAnnotation: identity}}}
		if failed {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
		}
		return j
	}
	want := job(false, "2", "new")
	for _, tc := range []struct {
		name string
		job  *batchv1.Job
		run  bool
	}{
		{"failed, edited, new identity: run again", job(true, "1", "old"), true},
		{"running, edited, new identity: keep", job(false, "1", "old"), false},
		{"failed, same generation (a new operator default): keep", job(true, "2", "old"), false},
		{"failed, edited, same identity (another field): keep", job(true, "1", "new"), false},
	} {
		if got := failedWithOtherIdentity(tc.job, want); got != tc.run {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

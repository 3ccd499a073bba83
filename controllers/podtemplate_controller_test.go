package controllers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// restrictedNamespace is a namespace whose Pod Security admission enforces
// "restricted": the fake cluster's pods, made from the Jobs' templates, are
// judged by the API server.
func restrictedNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lcft-", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

func createSecret(t *testing.T, ns, name string, data map[string]string, annotations map[string]string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations}, StringData: data}
	if err := k8sClient.Create(context.Background(), s); err != nil {
		t.Fatalf("creating Secret %s: %v", name, err)
	}
	return s
}

// waitCondition waits until obj has condType=True with reason for its
// generation, and a message that contains message.
func waitCondition(t *testing.T, obj client.Object, conds func() []metav1.Condition, condType, reason, message string) *metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	eventually(t, runTimeout, fmt.Sprintf("%s to have %s=True (%s: %s)", obj.GetName(), condType, reason, message), func() (bool, error) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		found = meta.FindStatusCondition(conds(), condType)
		ok := found != nil && found.Status == metav1.ConditionTrue && found.Reason == reason &&
			found.ObservedGeneration == obj.GetGeneration() && strings.Contains(found.Message, message)
		return ok, fmt.Errorf("condition %+v", found)
	})
	return found
}

// (a) The Job of a cohort carries the pod template merged over the
// operator's default, with the restricted settings intact, and Pod Security
// "restricted" admits its pods.
func TestCohortPodTemplateReachesTheJob(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := restrictedNamespace(t)
	cluster := newFakeCluster(t, ns)
	startManagerWith(t, func(o *Options) {
		o.TrainerPodTemplate = &v1.TrainerPodTemplate{
			Labels:           map[string]string{"team": "platform", "cost-center": "7"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
			Env:              []corev1.EnvVar{{Name: "AWS_REGION", Value: "eu-west-1"}},
		}
	})
	createSecret(t, ns, "s3", map[string]string{"access": "a", "secret": "s"}, nil)
	createSecret(t, ns, "ca", map[string]string{"ca.crt": "pem"}, nil)

	gm := modelObj(ns, "wd")
	gm.Spec.PodTemplate = &v1.TrainerPodTemplate{Labels: map[string]string{"purpose": "pretrain"}}
	create(t, gm)
	waitModel(t, gm)
	if l := jobsOf(t, ns, "wd")[0].Spec.Template.Labels; l["purpose"] != "pretrain" || l["team"] != "platform" {
		t.Errorf("the pretraining pod's labels %v lack the model's and the operator's template", l)
	}

	tmpl := &v1.TrainerPodTemplate{
		Labels:             map[string]string{"team": "ml"},
		Annotations:        map[string]string{"example.com/owner": "ml"},
		ServiceAccountName: "trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "team-registry"}},
		Env:                []corev1.EnvVar{secretEnv("AWS_SECRET_ACCESS_KEY", "s3", "secret"), {Name: "AWS_ENDPOINT_URL", Value: "http://s3.local"}},
		EnvFrom:            []corev1.EnvFromSource{secretEnvFrom("s3")},
		Volumes: []corev1.Volume{
			pvcVolume("data", "datasets"),
			{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "ca", DefaultMode: ptr.To[int32](0o440)}}},
		},
		VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}, {Name: "ca", MountPath: "/etc/ssl/lcft", ReadOnly: true}},
		SecurityContext: &v1.TrainerSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{3000}},
	}
	cluster.hold("templated-")
	c := cohortObj(ns, "templated", "wd", withPodTemplate(tmpl), withShards(2))
	create(t, c)
	eventually(t, runTimeout, "the cohort's Job", func() (bool, error) { return len(jobsOf(t, ns, "templated")) == 1, nil })
	job := jobsOf(t, ns, "templated")[0]
	pod := job.Spec.Template

	type podParts struct {
		Labels, Annotations map[string]string
		ServiceAccountName  string
		ImagePullSecrets    []corev1.LocalObjectReference
		Env                 []corev1.EnvVar
		EnvFrom             []corev1.EnvFromSource
		Volumes             []corev1.Volume
		VolumeMounts        []corev1.VolumeMount
		PodSecurity         *corev1.PodSecurityContext
		ContainerSecurity   *corev1.SecurityContext
		AutomountToken      *bool
	}
	container := pod.Spec.Containers[0]
	// The API server adds the Job controller's labels to the template.
	for _, k := range []string{batchv1.ControllerUidLabel, batchv1.JobNameLabel, "controller-uid", "job-name"} {
		delete(pod.Labels, k)
	}
	got := podParts{
		Labels: pod.Labels, Annotations: pod.Annotations, ServiceAccountName: pod.Spec.ServiceAccountName,
		ImagePullSecrets: pod.Spec.ImagePullSecrets, Env: container.Env, EnvFrom: container.EnvFrom,
		Volumes: pod.Spec.Volumes, VolumeMounts: container.VolumeMounts,
		PodSecurity: pod.Spec.SecurityContext, ContainerSecurity: container.SecurityContext, AutomountToken: pod.Spec.AutomountServiceAccountToken,
	}
	want := podParts{
		Labels: map[string]string{
			ManagedByLabel: ManagedByValue, OwnerKindLabel: "FineTuneCohort", OwnerNameLabel: "templated",
			"team": "ml", "cost-center": "7",
		},
		Annotations:        map[string]string{RunHashAnnotation: job.Annotations[RunHashAnnotation], "example.com/owner": "ml"},
		ServiceAccountName: "trainer",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "team-registry"}},
		// The operator's variables first, then the operator's template's, then the cohort's.
		Env: []corev1.EnvVar{
			{Name: "LCFT_SHARD_COUNT", Value: "2"}, memoryLimitEnv(),
			{Name: runspec.EnvProgressAddr, Value: fmt.Sprintf(":%d", runspec.DefaultProgressPort)},
			{Name: "AWS_REGION", Value: "eu-west-1"},
			secretEnv("AWS_SECRET_ACCESS_KEY", "s3", "secret"), {Name: "AWS_ENDPOINT_URL", Value: "http://s3.local"},
		},
		EnvFrom: []corev1.EnvFromSource{secretEnvFrom("s3")},
		Volumes: []corev1.Volume{
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(scratchSizeLimit)}}},
			pvcVolume("data", "datasets"),
			{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "ca", DefaultMode: ptr.To[int32](0o440)}}},
			{Name: "run-spec", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: job.Name}, DefaultMode: ptr.To[int32](0o644)}}},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "run-spec", MountPath: specMountDir, ReadOnly: true}, {Name: "scratch", MountPath: "/tmp"},
			{Name: "data", MountPath: "/data", ReadOnly: true}, {Name: "ca", MountPath: "/etc/ssl/lcft", ReadOnly: true},
		},
		PodSecurity: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](trainerUID),
			FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{3000},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		ContainerSecurity: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		AutomountToken: ptr.To(false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the Job's pod template (-want +got):\n%s", diff)
	}

	// Pod Security "restricted" admits the pod (the namespace enforces it).
	dry := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "psa-check", Labels: pod.Labels}, Spec: *pod.Spec.DeepCopy()}
	if err := k8sClient.Create(ctx, dry, client.DryRunAll); err != nil {
		t.Errorf("Pod Security restricted refuses the trainer pod: %v", err)
	}
	cluster.release("templated-")
	waitCohort(t, c, v1.PhaseSucceeded)
}

// (b) A missing Secret makes the object wait, with no Job; the Secret's
// creation starts the run. Both for a Secret of the object's template and
// one of the operator's default template.
func TestMissingSecretMakesTheRunWait(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManagerWith(t, func(o *Options) {
		o.TrainerPodTemplate = &v1.TrainerPodTemplate{EnvFrom: []corev1.EnvFromSource{secretEnvFrom("store-credentials")}}
	})

	// The operator's default template needs store-credentials: the model waits.
	gm := modelObj(ns, "wd")
	create(t, gm)
	cond := waitCondition(t, gm, func() []metav1.Condition { return gm.Status.Conditions }, v1.ConditionWaiting, ReasonSecretNotFound, "Secret store-credentials")
	t.Logf("GlobalModel: phase %s, Waiting: %s: %s", gm.Status.Phase, cond.Reason, cond.Message)
	if gm.Status.Phase != v1.PhaseWaiting || !strings.Contains(cond.Message, "Secret store-credentials") {
		t.Errorf("GlobalModel phase %s, condition %+v: want Waiting naming Secret store-credentials", gm.Status.Phase, cond)
	}
	if jobs := jobsOf(t, ns, "wd"); len(jobs) != 0 {
		t.Fatalf("a model waiting for a Secret has %d Jobs", len(jobs))
	}
	createSecret(t, ns, "store-credentials", map[string]string{"AWS_ACCESS_KEY_ID": "id"}, nil)
	waitModel(t, gm)

	// The cohort's own template needs cohort-token (env) and a volume Secret.
	c := cohortObj(ns, "needs-token", "wd", withPodTemplate(&v1.TrainerPodTemplate{
		Env:          []corev1.EnvVar{secretEnv("TOKEN", "cohort-token", "token")},
		Volumes:      []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "cohort-tls"}}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/tls"}},
	}))
	create(t, c)
	cond = waitCondition(t, c, func() []metav1.Condition { return c.Status.Conditions }, v1.ConditionWaiting, ReasonSecretNotFound, "Secret cohort-token")
	t.Logf("FineTuneCohort: phase %s, Waiting: %s: %s", c.Status.Phase, cond.Reason, cond.Message)
	if c.Status.Phase != v1.PhaseWaiting || !strings.Contains(cond.Message, "Secret cohort-token") || !strings.Contains(cond.Message, "env TOKEN") {
		t.Errorf("cohort phase %s, condition %+v: want Waiting naming Secret cohort-token", c.Status.Phase, cond)
	}
	if jobs := jobsOf(t, ns, "needs-token"); len(jobs) != 0 {
		t.Fatalf("a cohort waiting for a Secret has %d Jobs", len(jobs))
	}
	var cms corev1.ConfigMapList
	if err := k8sClient.List(ctx, &cms, client.InNamespace(ns), client.MatchingLabels{OwnerNameLabel: "needs-token"}); err != nil || len(cms.Items) != 0 {
		t.Fatalf("a waiting cohort has run-spec ConfigMaps: %d (%v)", len(cms.Items), err)
	}
	createSecret(t, ns, "cohort-token", map[string]string{"token": "t"}, nil)
	cond = waitCondition(t, c, func() []metav1.Condition { return c.Status.Conditions }, v1.ConditionWaiting, ReasonSecretNotFound, "Secret cohort-tls")
	t.Logf("FineTuneCohort, once cohort-token exists: %s: %s", cond.Reason, cond.Message)
	createSecret(t, ns, "cohort-tls", map[string]string{"tls.crt": "pem"}, nil)
	waitCohort(t, c, v1.PhaseSucceeded)
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionWaiting); cond == nil || cond.Status != metav1.ConditionFalse {
		t.Errorf("Waiting after the run: %+v", cond)
	}
	if jobs := jobsOf(t, ns, "needs-token"); len(jobs) != 1 {
		t.Errorf("want one Job once the Secrets exist, got %d", len(jobs))
	}
}

// leakedValue is a credential that must reach the trainer pods and nothing else.
const leakedValue = "AKIA-LCFT-TEST-SECRET-VALUE"

// (c) Credentials reach only the trainer pods: the Secret's value appears
// nowhere the operator writes (status, events, ConfigMaps, Jobs) nor in
// anything the manager logs, and the manager's cache holds no Secret data.
func TestCredentialsReachOnlyTheTrainerPods(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	stopLog := managerLog.capture()
	logged := ""
	defer func() {
		if logged == "" {
			stopLog()
		}
	}()
	mgr, _ := startManagerWith(t, nil)

	// As `kubectl apply` leaves it: the whole Secret, data included, in an annotation.
	lastApplied := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s3"},"stringData":{"AWS_SECRET_ACCESS_KEY":%q}}`, leakedValue)
	secret := createSecret(t, ns, "s3", map[string]string{"AWS_SECRET_ACCESS_KEY": leakedValue, "AWS_ACCESS_KEY_ID": "lcft"},
		map[string]string{corev1.LastAppliedConfigAnnotation: lastApplied})

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	c := cohortObj(ns, "with-creds", "wd", withShards(2), withPodTemplate(&v1.TrainerPodTemplate{
		Env:     []corev1.EnvVar{secretEnv("S3_SECRET", "s3", "AWS_SECRET_ACCESS_KEY")},
		EnvFrom: []corev1.EnvFromSource{secretEnvFrom("s3")},
	}))
	create(t, c)
	waitCohort(t, c, v1.PhaseSucceeded)
	logged = stopLog()

	needles := []string{leakedValue, base64.StdEncoding.EncodeToString([]byte(leakedValue))}
	contains := func(what string, v any) {
		t.Helper()
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if strings.Contains(string(raw), n) {
				t.Errorf("%s contains the Secret's value (%q)", what, n)
			}
		}
	}
	// The search finds the value where it is: in the Secret.
	var stored corev1.Secret
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), &stored); err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(stored); !strings.Contains(string(raw), needles[0]) || !strings.Contains(string(raw), needles[1]) {
		t.Fatalf("the search does not find the value in the Secret itself")
	}

	contains("the cohort (status included)", getCohort(t, ns, c.Name))
	contains("the model", gm)
	var events corev1.EventList
	var newEvents eventsv1.EventList
	var cms corev1.ConfigMapList
	var jobs batchv1.JobList
	for _, l := range []client.ObjectList{&events, &newEvents, &cms, &jobs} {
		if err := k8sClient.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if len(events.Items) == 0 || len(cms.Items) == 0 || len(jobs.Items) != 2 {
		t.Fatalf("nothing to search: %d events, %d ConfigMaps, %d Jobs", len(events.Items), len(cms.Items), len(jobs.Items))
	}
	contains("the Events", events)
	contains("the events.k8s.io Events", newEvents)
	contains("the ConfigMaps", cms)
	contains("the Jobs", jobs)
	for _, n := range needles {
		if strings.Contains(logged, n) {
			t.Errorf("the manager's log contains the Secret's value (%q)", n)
		}
	}
	if !strings.Contains(logged, c.Name) {
		t.Errorf("the captured log (%d bytes) does not mention the cohort: is the capture working?", len(logged))
	}
	t.Logf("searched: the cohort, %d Events, %d events.k8s.io Events, %d ConfigMaps, %d Jobs, %d bytes of manager log",
		len(events.Items), len(newEvents.Items), len(cms.Items), len(jobs.Items), len(logged))

	// The trainer's Job references the Secret by name, for the kubelet to resolve.
	env := jobsOf(t, ns, c.Name)[0].Spec.Template.Spec.Containers[0].Env
	if ref := env[len(env)-1].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "s3" {
		t.Errorf("the Job's env does not reference the Secret: %+v", env)
	}
	// The manager's cache holds the Secret's name, not its data nor its annotations.
	cached := secretMetadata()
	if err := mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(secret), cached); err != nil {
		t.Fatalf("the Secret's metadata is not in the cache: %v", err)
	}
	if cached.Annotations != nil || cached.ManagedFields != nil {
		t.Errorf("the cached Secret keeps annotations %v / managed fields", cached.Annotations)
	}
	contains("the manager's cache", cached)
}

// Changing a cohort's pod identity (here env) keeps a succeeded run and runs
// a failed one again with the new template.
func TestPodIdentityChange(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	gm := modelObj(ns, "wd")
	create(t, gm)
	waitModel(t, gm)
	ok := cohortObj(ns, "ok", "wd")
	broken := cohortObj(ns, "broken", "wd", withDataset(missingDataset()))
	create(t, ok, broken)
	waitCohort(t, ok, v1.PhaseSucceeded)
	waitCohort(t, broken, v1.PhaseFailed)
	okJob, brokenJob := jobsOf(t, ns, "ok")[0], jobsOf(t, ns, "broken")[0]

	for _, c := range []*v1.FineTuneCohort{ok, broken} {
		c.Spec.PodTemplate = &v1.TrainerPodTemplate{Env: []corev1.EnvVar{{Name: "AWS_PROFILE", Value: "rotated"}}}
		if err := k8sClient.Update(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// The failed run runs again under the same name, as a new Job.
	eventually(t, runTimeout, "the failed run's Job to be made again", func() (bool, error) {
		jobs := jobsOf(t, ns, "broken")
		return len(jobs) == 1 && jobs[0].UID != brokenJob.UID && jobs[0].Name == brokenJob.Name, nil
	})
	waitPhase(t, broken, func() v1.Phase {
		if broken.Status.ObservedGeneration != broken.Generation {
			return ""
		}
		return broken.Status.Phase
	}, v1.PhaseFailed)
	if cond := meta.FindStatusCondition(broken.Status.Conditions, v1.ConditionFailed); cond == nil || cond.Reason != "TrainerFailed" {
		t.Errorf("the run again should fail with the trainer's message: %+v", cond)
	}
	// The succeeded run stays: same Job, same results, for the new generation.
	waitPhase(t, ok, func() v1.Phase {
		if ok.Status.ObservedGeneration != ok.Generation {
			return ""
		}
		return ok.Status.Phase
	}, v1.PhaseSucceeded)
	if jobs := jobsOf(t, ns, "ok"); len(jobs) != 1 || jobs[0].UID != okJob.UID {
		t.Errorf("new credentials replaced the succeeded run's Job")
	}
}

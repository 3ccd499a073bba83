package controllers

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

const (
	trainerContainer = "trainer"
	specKey          = "spec.json"
	specMountDir     = "/etc/lcft"
	pvcMountRoot     = "/mnt/pvc"
	// RunHashAnnotation records the hash of the run a Job executes; the Job's
	// name ends with its first characters.
	RunHashAnnotation = "finetune.lcft.dev/run-hash"
	// trainerUID is the non-root user of the distroless trainer image.
	trainerUID = 65532
)

// scratchSizeLimit bounds the emptyDir at /tmp: a runaway trainer is evicted
// instead of filling the node's disk.
var scratchSizeLimit = resource.MustParse("1Gi")

// run is everything needed to build the ConfigMap and Job of one trainer run.
type run struct {
	owner       client.Object
	ownerKind   string // GlobalModel, CorrectionPolicy or FineTuneCohort
	spec        runspec.Spec
	placement   finetunev1alpha1.Placement
	policy      finetunev1alpha1.RunPolicy
	parallelism *int32
	suspend     bool
	// podTemplate is the object's pod template merged over the operator's
	// default (mergePodTemplates); nil when neither has one.
	podTemplate *finetunev1alpha1.TrainerPodTemplate
	// restart is where the object's status keeps its run's Job and the
	// times it was made again (restart_policy.go).
	restart restartState
}

// runObjects are the owned children of a run.
type runObjects struct {
	configMap *corev1.ConfigMap
	job       *batchv1.Job
	hash      string
}

// buildRun turns a run into its ConfigMap and Job. The names end with the
// hash of the run's identity (run_identity.go), so the same object and spec
// always give the same Job: a restarted manager finds the Job it made
// instead of making a second one, and a new trainer image or pool map does
// not make a new one. The pod template's identity (env, envFrom, service
// account, pull secrets, labels, annotations, security context) has a hash
// of its own on the Job (PodTemplateHashAnnotation).
func buildRun(r run, opts Options) (*runObjects, error) {
	spec := r.spec
	if spec.GlobalModel != nil {
		m := *spec.GlobalModel // mountPVCs rewrites URIs: keep the caller's intact
		spec.GlobalModel = &m
	}
	if spec.Dataset.Partitions != nil {
		p := *spec.Dataset.Partitions
		spec.Dataset.Partitions = &p
	}
	spec.Distill = spec.Distill.Clone()
	volumes, mounts, err := mountPVCs(&spec)
	if err != nil {
		return nil, err
	}
	podSpec := trainerPodSpec(r, opts, volumes, mounts)
	applyPodStorage(&podSpec, r.podTemplate)
	hash, err := runHash(r.spec, r.placement, r.podTemplate)
	if err != nil {
		return nil, err
	}
	idHash, err := identityHash(r.podTemplate)
	if err != nil {
		return nil, err
	}
	// Each run writes to a directory of its own, named by its hash, so a
	// new run never overwrites the outputs of an earlier one.
	spec.OutputURI = runOutputURI(spec.OutputURI, hash)
	specJSON, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding run spec: %w", err)
	}
	name := childName(r.owner.GetName(), kindSuffix(r.spec.Kind), hash)
	labels := map[string]string{
		ManagedByLabel: ManagedByValue,
		OwnerKindLabel: r.ownerKind,
		OwnerNameLabel: truncateLabel(r.owner.GetName()),
	}
	podLabels := maps.Clone(labels)
	jobLabels := maps.Clone(labels)
	maps.Copy(jobLabels, kueueLabels(r.owner))
	annotations := map[string]string{RunHashAnnotation: hash}
	jobAnnotations := map[string]string{
		RunHashAnnotation:         hash,
		PodTemplateHashAnnotation: idHash,
		OwnerGenerationAnnotation: strconv.FormatInt(r.owner.GetGeneration(), 10),
	}
	podMeta := metav1.ObjectMeta{Labels: podLabels, Annotations: maps.Clone(annotations)}

	// The run spec holds no pod template: env values and Secret names stay
	// out of the ConfigMap.
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.owner.GetNamespace(), Labels: labels, Annotations: annotations},
		Data:       map[string]string{specKey: string(specJSON)},
		Immutable:  ptr.To(true),
	}
	podSpec.Volumes = append(podSpec.Volumes, corev1.Volume{
		Name: "run-spec",
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name},
		}},
	})
	applyPodIdentity(&podMeta, &podSpec, r.podTemplate)
	shards := int32(spec.Shards)
	parallelism := shards
	if r.parallelism != nil && *r.parallelism < shards {
		parallelism = *r.parallelism
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.owner.GetNamespace(), Labels: jobLabels, Annotations: jobAnnotations},
		Spec: batchv1.JobSpec{
			Completions:             ptr.To(shards),
			Parallelism:             ptr.To(parallelism),
			CompletionMode:          ptr.To(batchv1.IndexedCompletion),
			BackoffLimit:            ptr.To(ptr.Deref(r.policy.BackoffLimit, 2)),
			ActiveDeadlineSeconds:   r.policy.ActiveDeadlineSeconds,
			TTLSecondsAfterFinished: r.policy.TTLSecondsAfterFinished,
			Suspend:                 ptr.To(r.suspend || jobLabels[QueueNameLabel] != ""), // Kueue admits a queued Job (kueue.go)
			PodFailurePolicy:        badInputFailsJob(),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta,
				Spec:       podSpec,
			},
		},
	}
	return &runObjects{configMap: cm, job: job, hash: hash}, nil
}

// trainerPodSpec is a Pod Security "restricted" pod that runs the trainer on
// the run spec: the operator's defaults, before the pod template.
func trainerPodSpec(r run, opts Options, volumes []corev1.Volume, mounts []corev1.VolumeMount) corev1.PodSpec {
	p := r.placement
	nodeSelector := maps.Clone(p.NodeSelector)
	if pool := opts.Pools.Selector(p.Pool); len(pool) > 0 {
		if nodeSelector == nil {
			nodeSelector = map[string]string{}
		}
		maps.Copy(nodeSelector, pool) // the pool wins on conflict
	}
	resources := DefaultTrainerResources()
	switch {
	case p.Resources != nil:
		resources = *p.Resources.DeepCopy()
	case opts.TrainerResources != nil:
		resources = *opts.TrainerResources.DeepCopy()
	}
	env := []corev1.EnvVar{{Name: runspec.EnvShardCount, Value: strconv.Itoa(r.spec.Shards)}}
	if _, ok := resources.Limits[corev1.ResourceMemory]; ok {
		// The trainer keeps its Go heap under 90% of it (GOMEMLIMIT).
		env = append(env, corev1.EnvVar{Name: runspec.EnvMemoryLimit, ValueFrom: &corev1.EnvVarSource{
			ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: trainerContainer, Resource: "limits.memory"},
		}})
	}
	var ports []corev1.ContainerPort
	if opts.progressInterval() > 0 {
		// The trainer serves its progress there; the manager polls it (progress.go).
		port := opts.progressPort()
		env = append(env, corev1.EnvVar{Name: runspec.EnvProgressAddr, Value: ":" + strconv.Itoa(int(port))})
		ports = []corev1.ContainerPort{{Name: "progress", ContainerPort: port, Protocol: corev1.ProtocolTCP}}
	}
	mounts = append(mounts,
		corev1.VolumeMount{Name: "run-spec", MountPath: specMountDir, ReadOnly: true},
		corev1.VolumeMount{Name: "scratch", MountPath: "/tmp"},
	)
	volumes = append(volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(scratchSizeLimit.DeepCopy())},
	}})
	return corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		AutomountServiceAccountToken:  ptr.To(false), // the trainer never talks to the API
		EnableServiceLinks:            ptr.To(false),
		NodeSelector:                  nodeSelector,
		Tolerations:                   p.Tolerations,
		Affinity:                      p.Affinity,
		PriorityClassName:             p.PriorityClassName,
		TerminationGracePeriodSeconds: ptr.To[int64](10),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](trainerUID),
			RunAsGroup:     ptr.To[int64](trainerUID),
			FSGroup:        ptr.To[int64](trainerUID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:                     trainerContainer,
			Image:                    opts.TrainerImage,
			Args:                     []string{"run", "--spec", path.Join(specMountDir, specKey), "--termination-log", "/dev/termination-log"},
			Env:                      env,
			Ports:                    ports,
			Resources:                resources,
			VolumeMounts:             mounts,
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				RunAsNonRoot:             ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
		Volumes: volumes,
	}
}

// DefaultTrainerResources are the trainer container's resources when neither
// the object's placement nor the operator (--trainer-resources-file) sets them.
func DefaultTrainerResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("500m"),
			corev1.ResourceMemory: resource.MustParse("256Mi"),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
}

// mountedURI is where the trainer sees a pvc://CLAIM/path URI.
func mountedURI(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "pvc://")
	if !ok {
		return uri, false
	}
	claim, sub, _ := strings.Cut(rest, "/")
	return "file://" + path.Join(pvcMountRoot, claim, sub), true
}

// unmountURI maps a URI the trainer reported under the run's output
// directory back to the user's scheme (pvc:// stays pvc://).
func unmountURI(trainerURI, outputURI string) string {
	mounted, ok := mountedURI(outputURI)
	if !ok {
		return trainerURI
	}
	if rest, ok := strings.CutPrefix(trainerURI, mounted); ok {
		return outputURI + rest
	}
	return trainerURI
}

// mountPVCs rewrites every pvc://CLAIM/path URI of the spec into a file path
// under /mnt/pvc/CLAIM and returns the volumes and mounts that make it exist.
// Dataset claims are mounted read-only unless the same claim receives output.
func mountPVCs(spec *runspec.Spec) ([]corev1.Volume, []corev1.VolumeMount, error) {
	type use struct{ write bool }
	claims := map[string]*use{}
	var order []string
	rewrite := func(uri *string, write bool) error {
		rest, ok := strings.CutPrefix(*uri, "pvc://")
		if !ok {
			return nil
		}
		claim, _, _ := strings.Cut(rest, "/")
		if claim == "" {
			return fmt.Errorf("URI %q names no claim: want pvc://CLAIM/path", *uri)
		}
		if claims[claim] == nil {
			claims[claim] = &use{}
			order = append(order, claim)
		}
		claims[claim].write = claims[claim].write || write
		*uri, _ = mountedURI(*uri)
		return nil
	}
	if err := rewrite(&spec.Dataset.URI, false); err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	if spec.Dataset.Partitions != nil {
		if err := rewrite(&spec.Dataset.Partitions.ManifestURI, false); err != nil {
			return nil, nil, fmt.Errorf("dataset partitions: %w", err)
		}
	}
	if spec.GlobalModel != nil {
		if err := rewrite(&spec.GlobalModel.URI, false); err != nil {
			return nil, nil, fmt.Errorf("global model: %w", err)
		}
	}
	for _, uri := range spec.Distill.URIs() {
		if err := rewrite(uri, false); err != nil {
			return nil, nil, fmt.Errorf("distillation: %w", err)
		}
	}
	if err := rewrite(&spec.OutputURI, true); err != nil {
		return nil, nil, fmt.Errorf("artifacts: %w", err)
	}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	for i, claim := range order {
		vol := fmt.Sprintf("pvc-%d", i)
		volumes = append(volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: !claims[claim].write},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: vol, MountPath: path.Join(pvcMountRoot, claim), ReadOnly: !claims[claim].write})
	}
	return volumes, mounts, nil
}

// runOutputURI is the output directory of the run with the given hash.
func runOutputURI(base, hash string) string {
	return joinURI(base, hash)
}

func kindSuffix(k runspec.Kind) string {
	switch k {
	case runspec.KindPretrain:
		return "pretrain"
	case runspec.KindSearch:
		return "search"
	case runspec.KindVerify:
		return "verify"
	default:
		return "ft"
	}
}

// childName is <owner>-<kind>-<hash>, shortened so that it stays a valid
// label value (63 characters): Jobs label their pods with their own name.
func childName(owner, kind, hash string) string {
	suffix := "-" + kind + "-" + hash
	if max := 63 - len(suffix); len(owner) > max {
		owner = strings.TrimRight(owner[:max], "-.")
	}
	return owner + suffix
}

// truncateLabel keeps a name usable as a label value; the full name stays in the owner reference.
func truncateLabel(name string) string {
	if len(name) <= 63 {
		return name
	}
	return strings.TrimRight(name[:63], "-.")
}

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// PodTemplateHashAnnotation records the hash of the parts of the pod template
// that are not in the run hash (identity: env, envFrom, service account,
// pull secrets, labels, annotations, security context). A failed run whose
// Job has another identity is run again; a running or succeeded one is kept.
const PodTemplateHashAnnotation = "finetune.lcft.dev/pod-template-hash"

// OwnerGenerationAnnotation records the generation of the object a Job was
// made for: a failed Job is only run again for a later generation (an edit
// of the object), never because the operator's default template changed.
const OwnerGenerationAnnotation = "finetune.lcft.dev/owner-generation"

// ReasonInvalidPodTemplate is the Failed reason of an object whose pod
// template (merged with the operator's default) cannot make a valid pod.
const ReasonInvalidPodTemplate = "InvalidPodTemplate"

// mergePodTemplates merges an object's pod template over the operator's
// default: the object wins per label and annotation key, per env, volume
// and imagePullSecret name, per mount path, and per securityContext field;
// envFrom sources are the default's, then the object's (a later source wins
// on a duplicate key). The object's template is validated (the API server
// did so too, unless the object predates the rules; the default was
// validated when it was loaded), and every mount of the result must use a
// volume of either template. Neither input is modified.
func mergePodTemplates(def, obj *finetunev1alpha1.TrainerPodTemplate, path string) (*finetunev1alpha1.TrainerPodTemplate, error) {
	if err := obj.Validate(path); err != nil {
		return nil, err
	}
	if def == nil && obj == nil {
		return nil, nil
	}
	out := &finetunev1alpha1.TrainerPodTemplate{}
	if def != nil {
		out = def.DeepCopy()
	}
	if obj != nil {
		o := obj.DeepCopy()
		out.Labels = mergeMaps(out.Labels, o.Labels)
		out.Annotations = mergeMaps(out.Annotations, o.Annotations)
		if o.ServiceAccountName != "" {
			out.ServiceAccountName = o.ServiceAccountName
		}
		out.ImagePullSecrets = mergeByKey(out.ImagePullSecrets, o.ImagePullSecrets, func(s corev1.LocalObjectReference) string { return s.Name })
		out.Env = mergeByKey(out.Env, o.Env, func(e corev1.EnvVar) string { return e.Name })
		out.EnvFrom = append(out.EnvFrom, o.EnvFrom...)
		out.Volumes = mergeByKey(out.Volumes, o.Volumes, func(v corev1.Volume) string { return v.Name })
		out.VolumeMounts = mergeByKey(out.VolumeMounts, o.VolumeMounts, func(m corev1.VolumeMount) string { return m.MountPath })
		out.SecurityContext = mergeSecurityContext(out.SecurityContext, o.SecurityContext)
	}
	if err := checkMounts(out, path); err != nil {
		return nil, err
	}
	return out, nil
}

// checkMounts reports a mount of t whose volume t does not define.
func checkMounts(t *finetunev1alpha1.TrainerPodTemplate, path string) error {
	volumes := map[string]bool{}
	for _, v := range t.Volumes {
		volumes[v.Name] = true
	}
	for i, m := range t.VolumeMounts {
		if !volumes[m.Name] {
			return fmt.Errorf("%s.volumeMounts[%d]: mount at %s uses volume %q, which neither the object's nor the operator's pod template defines", path, i, m.MountPath, m.Name)
		}
	}
	return nil
}

func mergeMaps(def, obj map[string]string) map[string]string {
	if len(def) == 0 && len(obj) == 0 {
		return nil
	}
	out := maps.Clone(def)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, obj)
	return out
}

// mergeByKey replaces the items of def whose key an item of obj has, in
// place (env order matters for $(VAR) references), and appends the rest of obj.
func mergeByKey[T any](def, obj []T, key func(T) string) []T {
	if len(obj) == 0 {
		return def
	}
	byKey := map[string]T{}
	for _, o := range obj {
		byKey[key(o)] = o
	}
	out := make([]T, 0, len(def)+len(obj))
	for _, d := range def {
		if o, ok := byKey[key(d)]; ok {
			out = append(out, o)
			delete(byKey, key(d))
			continue
		}
		out = append(out, d)
	}
	for _, o := range obj {
		if _, ok := byKey[key(o)]; ok {
			out = append(out, o)
		}
	}
	return out
}

func mergeSecurityContext(def, obj *finetunev1alpha1.TrainerSecurityContext) *finetunev1alpha1.TrainerSecurityContext {
	if obj == nil {
		return def
	}
	if def == nil {
		return obj
	}
	out := def.DeepCopy()
	if obj.RunAsUser != nil {
		out.RunAsUser = obj.RunAsUser
	}
	if obj.RunAsGroup != nil {
		out.RunAsGroup = obj.RunAsGroup
	}
	if obj.FSGroup != nil {
		out.FSGroup = obj.FSGroup
	}
	if obj.FSGroupChangePolicy != nil {
		out.FSGroupChangePolicy = obj.FSGroupChangePolicy
	}
	if obj.SupplementalGroups != nil {
		out.SupplementalGroups = obj.SupplementalGroups
	}
	if obj.RunAsNonRoot != nil {
		out.RunAsNonRoot = obj.RunAsNonRoot
	}
	return out
}

// applyPodStorage adds the template's volumes and mounts to the pod. They
// are part of the run's identity: a file:// dataset reads through them. An
// emptyDir without a sizeLimit gets the scratch space's, so that no volume
// of a trainer pod can fill the node's disk.
func applyPodStorage(pod *corev1.PodSpec, t *finetunev1alpha1.TrainerPodTemplate) {
	if t == nil {
		return
	}
	for _, v := range t.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.SizeLimit == nil {
			v = *v.DeepCopy()
			v.EmptyDir.SizeLimit = ptr.To(scratchSizeLimit.DeepCopy())
		}
		pod.Volumes = append(pod.Volumes, v)
	}
	c := &pod.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, t.VolumeMounts...)
}

// applyPodIdentity puts the rest of the template on the pod: metadata, the
// service account, pull secrets, env after the operator's own, envFrom, and
// the user and groups. The restricted settings (no privilege escalation,
// read-only root, no capabilities, seccomp RuntimeDefault, non-root, no
// service account token) are not fields of the template and stay.
func applyPodIdentity(meta *metav1.ObjectMeta, pod *corev1.PodSpec, t *finetunev1alpha1.TrainerPodTemplate) {
	if t == nil {
		return
	}
	// The operator's labels and annotations win (the API refuses the keys anyway).
	meta.Labels = mergeMaps(t.Labels, meta.Labels)
	meta.Annotations = mergeMaps(t.Annotations, meta.Annotations)
	if t.ServiceAccountName != "" {
		pod.ServiceAccountName = t.ServiceAccountName
	}
	pod.ImagePullSecrets = append(pod.ImagePullSecrets, t.ImagePullSecrets...)
	c := &pod.Containers[0]
	c.Env = append(c.Env, t.Env...)
	c.EnvFrom = append(c.EnvFrom, t.EnvFrom...)
	if s := t.SecurityContext; s != nil {
		psc := pod.SecurityContext
		if s.RunAsUser != nil {
			psc.RunAsUser = s.RunAsUser
		}
		if s.RunAsGroup != nil {
			psc.RunAsGroup = s.RunAsGroup
		}
		if s.FSGroup != nil {
			psc.FSGroup = s.FSGroup
		}
		psc.FSGroupChangePolicy = s.FSGroupChangePolicy
		psc.SupplementalGroups = slices.Clone(s.SupplementalGroups)
		// RunAsNonRoot stays true: the template may only say true.
	}
}

// identityHash is the hash of the template's identity parts, recorded on the
// Job (PodTemplateHashAnnotation). It covers names of Secrets and keys and
// literal env values, never Secret data (the operator does not read it).
func identityHash(t *finetunev1alpha1.TrainerPodTemplate) (string, error) {
	if t == nil {
		t = &finetunev1alpha1.TrainerPodTemplate{}
	}
	id := t.DeepCopy()
	id.Volumes, id.VolumeMounts = nil, nil
	raw, err := json.Marshal(id)
	if err != nil {
		return "", fmt.Errorf("encoding the pod template: %w", err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])[:10], nil
}

package v1alpha1

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Names and paths of the trainer pods that belong to the operator. The CRDs'
// CEL rules on TrainerPodTemplate refuse them; Validate repeats the rules in
// Go for templates that do not come through the API server (the operator's
// default template, read from a file) and for objects stored under an older
// CRD.
var (
	// reservedEnvPrefix and reservedEnvNames are environment variables the operator or Kubernetes sets.
	reservedEnvPrefix = "LCFT_"
	reservedEnvNames  = []string{"JOB_COMPLETION_INDEX", "GOMEMLIMIT"}
	// reservedVolumeNames and reservedVolumePrefix name the operator's volumes.
	reservedVolumeNames  = []string{"run-spec", "scratch"}
	reservedVolumePrefix = "pvc-"
	// reservedMountDirs are where the operator mounts the run spec, scratch space and claims.
	reservedMountDirs = []string{"/etc/lcft", "/tmp", "/mnt/pvc", "/dev/termination-log"}
	// reservedLabelPrefixes and reservedLabels belong to the operator and the Job controller.
	reservedLabelPrefixes = []string{"finetune.lcft.dev/", "batch.kubernetes.io/"}
	reservedLabels        = []string{"app.kubernetes.io/managed-by", "job-name", "controller-uid"}
	// securityAnnotationPrefixes would change the pod's AppArmor or seccomp profile.
	securityAnnotationPrefixes = []string{
		"container.apparmor.security.beta.kubernetes.io/",
		"seccomp.security.alpha.kubernetes.io/",
		"container.seccomp.security.alpha.kubernetes.io/",
	}
)

// Validation limits, the same as the CRDs' markers.
const (
	maxTemplateMetadata = 32
	maxTemplateEnv      = 64
	maxTemplateEnvFrom  = 16
	maxTemplateVolumes  = 16
	maxTemplatePullSecs = 8
	maxTemplateGroups   = 16
)

// Validate checks t against the rules the CRDs enforce with CEL, plus the
// syntax of label keys and values and of env names. path is the field path
// of t in messages, such as "spec.podTemplate". A nil template is valid.
func (t *TrainerPodTemplate) Validate(path string) error {
	if t == nil {
		return nil
	}
	p := field.NewPath(path)
	var errs field.ErrorList
	errs = append(errs, t.validateMetadata(p)...)
	if t.ServiceAccountName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(t.ServiceAccountName) {
			errs = append(errs, field.Invalid(p.Child("serviceAccountName"), t.ServiceAccountName, msg))
		}
	}
	if len(t.ImagePullSecrets) > maxTemplatePullSecs {
		errs = append(errs, field.TooMany(p.Child("imagePullSecrets"), len(t.ImagePullSecrets), maxTemplatePullSecs))
	}
	errs = append(errs, t.validateEnv(p)...)
	errs = append(errs, t.validateVolumes(p)...)
	errs = append(errs, t.validateMounts(p)...)
	errs = append(errs, t.SecurityContext.validate(p.Child("securityContext"))...)
	return errs.ToAggregate()
}

func (t *TrainerPodTemplate) validateMetadata(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(t.Labels) > maxTemplateMetadata {
		errs = append(errs, field.TooMany(p.Child("labels"), len(t.Labels), maxTemplateMetadata))
	}
	if len(t.Annotations) > maxTemplateMetadata {
		errs = append(errs, field.TooMany(p.Child("annotations"), len(t.Annotations), maxTemplateMetadata))
	}
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, p.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, p.Child("annotations"))...)
	for _, k := range sortedKeys(t.Labels) {
		if slices.Contains(reservedLabels, k) || hasAnyPrefix(k, reservedLabelPrefixes) {
			errs = append(errs, field.Forbidden(p.Child("labels").Key(k), "the operator's and the Job controller's labels are reserved"))
		}
	}
	for _, k := range sortedKeys(t.Annotations) {
		if hasAnyPrefix(k, reservedLabelPrefixes) {
			errs = append(errs, field.Forbidden(p.Child("annotations").Key(k), "the operator's finetune.lcft.dev/* and the Job controller's batch.kubernetes.io/* keys are reserved"))
		}
		if hasAnyPrefix(k, securityAnnotationPrefixes) {
			errs = append(errs, field.Forbidden(p.Child("annotations").Key(k), "AppArmor and seccomp annotations are refused (Pod Security restricted)"))
		}
	}
	return errs
}

func (t *TrainerPodTemplate) validateEnv(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(t.Env) > maxTemplateEnv {
		errs = append(errs, field.TooMany(p.Child("env"), len(t.Env), maxTemplateEnv))
	}
	if len(t.EnvFrom) > maxTemplateEnvFrom {
		errs = append(errs, field.TooMany(p.Child("envFrom"), len(t.EnvFrom), maxTemplateEnvFrom))
	}
	seen := map[string]bool{}
	for i, e := range t.Env {
		f := p.Child("env").Index(i).Child("name")
		switch {
		case e.Name == "":
			errs = append(errs, field.Required(f, "an env variable needs a name"))
		case strings.HasPrefix(e.Name, reservedEnvPrefix) || slices.Contains(reservedEnvNames, e.Name):
			errs = append(errs, field.Forbidden(f, "LCFT_*, JOB_COMPLETION_INDEX and GOMEMLIMIT are reserved for the operator"))
		case seen[e.Name]:
			errs = append(errs, field.Duplicate(f, e.Name))
		default:
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(f, e.Name, msg))
			}
		}
		seen[e.Name] = true
	}
	return errs
}

func (t *TrainerPodTemplate) validateVolumes(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(t.Volumes) > maxTemplateVolumes {
		errs = append(errs, field.TooMany(p.Child("volumes"), len(t.Volumes), maxTemplateVolumes))
	}
	seen := map[string]bool{}
	for i, v := range t.Volumes {
		f := p.Child("volumes").Index(i)
		if slices.Contains(reservedVolumeNames, v.Name) || strings.HasPrefix(v.Name, reservedVolumePrefix) {
			errs = append(errs, field.Forbidden(f.Child("name"), "run-spec, scratch and pvc-* are the operator's volumes"))
		} else if seen[v.Name] {
			errs = append(errs, field.Duplicate(f.Child("name"), v.Name))
		} else {
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(f.Child("name"), v.Name, msg))
			}
		}
		seen[v.Name] = true
		if v.HostPath != nil {
			errs = append(errs, field.Forbidden(f.Child("hostPath"), "hostPath volumes are forbidden by Pod Security restricted"))
		}
		if n := restrictedSources(&v.VolumeSource); n != 1 || otherSources(&v.VolumeSource) {
			errs = append(errs, field.Invalid(f, v.Name, "a volume needs exactly one source among configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret (Pod Security restricted)"))
		}
	}
	return errs
}

// restrictedSources counts the sources of v that Pod Security restricted allows.
func restrictedSources(v *corev1.VolumeSource) int {
	n := 0
	for _, set := range []bool{v.ConfigMap != nil, v.CSI != nil, v.DownwardAPI != nil, v.EmptyDir != nil,
		v.Ephemeral != nil, v.PersistentVolumeClaim != nil, v.Projected != nil, v.Secret != nil} {
		if set {
			n++
		}
	}
	return n
}

// otherSources reports whether v sets a source that Pod Security restricted forbids.
func otherSources(v *corev1.VolumeSource) bool {
	allowed := corev1.VolumeSource{ConfigMap: v.ConfigMap, CSI: v.CSI, DownwardAPI: v.DownwardAPI, EmptyDir: v.EmptyDir,
		Ephemeral: v.Ephemeral, PersistentVolumeClaim: v.PersistentVolumeClaim, Projected: v.Projected, Secret: v.Secret}
	return *v != allowed
}

func (t *TrainerPodTemplate) validateMounts(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(t.VolumeMounts) > maxTemplateVolumes {
		errs = append(errs, field.TooMany(p.Child("volumeMounts"), len(t.VolumeMounts), maxTemplateVolumes))
	}
	seen := map[string]bool{}
	for i, m := range t.VolumeMounts {
		f := p.Child("volumeMounts").Index(i)
		switch {
		case !strings.HasPrefix(m.MountPath, "/") || strings.Contains(m.MountPath, ".."):
			errs = append(errs, field.Invalid(f.Child("mountPath"), m.MountPath, "must be an absolute path without '..'"))
		case m.MountPath == "/" || slices.ContainsFunc(reservedMountDirs, func(d string) bool {
			return m.MountPath == d || strings.HasPrefix(m.MountPath, d+"/")
		}):
			errs = append(errs, field.Forbidden(f.Child("mountPath"), "/, /dev/termination-log and /etc/lcft, /tmp, /mnt/pvc and below are the operator's"))
		case seen[m.MountPath]:
			errs = append(errs, field.Duplicate(f.Child("mountPath"), m.MountPath))
		}
		seen[m.MountPath] = true
		if slices.Contains(reservedVolumeNames, m.Name) || strings.HasPrefix(m.Name, reservedVolumePrefix) {
			errs = append(errs, field.Forbidden(f.Child("name"), "run-spec, scratch and pvc-* are the operator's volumes"))
		}
		if m.MountPropagation != nil && *m.MountPropagation == corev1.MountPropagationBidirectional {
			errs = append(errs, field.Forbidden(f.Child("mountPropagation"), "Bidirectional needs a privileged container (Pod Security restricted)"))
		}
	}
	return errs
}

func (s *TrainerSecurityContext) validate(p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	id := func(name string, v *int64, min int64) {
		if v != nil && (*v < min || *v > 2147483647) {
			errs = append(errs, field.Invalid(p.Child(name), *v, "out of range"))
		}
	}
	if s.RunAsUser != nil && *s.RunAsUser == 0 {
		errs = append(errs, field.Forbidden(p.Child("runAsUser"), "0 (root) is forbidden by Pod Security restricted"))
	}
	id("runAsUser", s.RunAsUser, 0)
	id("runAsGroup", s.RunAsGroup, 0)
	id("fsGroup", s.FSGroup, 0)
	if s.RunAsNonRoot != nil && !*s.RunAsNonRoot {
		errs = append(errs, field.Forbidden(p.Child("runAsNonRoot"), "false is forbidden by Pod Security restricted"))
	}
	if s.FSGroupChangePolicy != nil && *s.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch && *s.FSGroupChangePolicy != corev1.FSGroupChangeAlways {
		errs = append(errs, field.NotSupported(p.Child("fsGroupChangePolicy"), *s.FSGroupChangePolicy, []string{"OnRootMismatch", "Always"}))
	}
	if len(s.SupplementalGroups) > maxTemplateGroups {
		errs = append(errs, field.TooMany(p.Child("supplementalGroups"), len(s.SupplementalGroups), maxTemplateGroups))
	}
	for i, g := range s.SupplementalGroups {
		if g < 0 || g > 2147483647 {
			errs = append(errs, field.Invalid(p.Child("supplementalGroups").Index(i), g, "out of range"))
		}
	}
	return errs
}

func hasAnyPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// TrainerPodTemplate overrides parts of the trainer pods: the identity they
// run as (service account, credentials in env, envFrom and secret volumes),
// extra volumes (a PVC with data, a CA bundle), metadata, and the user and
// groups of the pod. It is merged onto the operator's Pod Security
// "restricted" defaults: nothing here can make a pod privileged, and names
// the operator uses itself are refused.
//
// The operator may have a default template of its own (the chart's
// trainer.podTemplate); an object's template merges over it, the object
// winning per label or annotation key, per env, volume or imagePullSecret
// name, per mount path, and per securityContext field.
type TrainerPodTemplate struct {
	// Labels added to the trainer pods. The operator's own labels
	// (app.kubernetes.io/managed-by, finetune.lcft.dev/*) and the Job
	// controller's (batch.kubernetes.io/*, job-name, controller-uid) are refused.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != 'app.kubernetes.io/managed-by' && !k.startsWith('finetune.lcft.dev/') && !k.startsWith('batch.kubernetes.io/') && k != 'job-name' && k != 'controller-uid')",message="podTemplate.labels may not set the operator's labels (app.kubernetes.io/managed-by, finetune.lcft.dev/*) or the Job controller's (batch.kubernetes.io/*, job-name, controller-uid)"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations added to the trainer pods, such as a workload identity or
	// a sidecar-injection switch. The operator's finetune.lcft.dev/* keys
	// and the Job controller's batch.kubernetes.io/* keys are refused.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('finetune.lcft.dev/') && !k.startsWith('batch.kubernetes.io/'))",message="podTemplate.annotations may not set the operator's finetune.lcft.dev/* or the Job controller's batch.kubernetes.io/* keys"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('container.apparmor.security.beta.kubernetes.io/') && !k.startsWith('seccomp.security.alpha.kubernetes.io/') && !k.startsWith('container.seccomp.security.alpha.kubernetes.io/'))",message="podTemplate.annotations may not set AppArmor or seccomp annotations: the operator's profile (seccomp RuntimeDefault) is what Pod Security restricted requires"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// ServiceAccountName the trainer pods run as, for cloud workload
	// identity (IRSA, GKE Workload Identity). The service account token is
	// still not mounted automatically (the trainer never calls the
	// Kubernetes API); identity webhooks that project their own token work.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// ImagePullSecrets to pull the trainer image from a private registry.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// Env of the trainer container, after the operator's own. Credentials
	// belong in a Secret, referenced with valueFrom.secretKeyRef: the
	// operator never reads the values. Names the operator sets (LCFT_*,
	// JOB_COMPLETION_INDEX, GOMEMLIMIT) are refused.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(e, !e.name.startsWith('LCFT_') && e.name != 'JOB_COMPLETION_INDEX' && e.name != 'GOMEMLIMIT')",message="podTemplate.env names LCFT_*, JOB_COMPLETION_INDEX and GOMEMLIMIT are reserved for the operator"
	// +listType=map
	// +listMapKey=name
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// EnvFrom of the trainer container: every key of a Secret or ConfigMap as
	// an environment variable. Variables in env (the operator's and yours)
	// win over keys of the same name here.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`

	// Volumes added to the trainer pods. Pod Security "restricted" allows
	// configMap, csi, downwardAPI, emptyDir, ephemeral,
	// persistentVolumeClaim, projected and secret volumes; others are
	// refused, as are the operator's volume names (run-spec, scratch, pvc-*).
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(v, !(v.name in ['run-spec', 'scratch']) && !v.name.startsWith('pvc-'))",message="podTemplate.volumes names run-spec, scratch and pvc-* are reserved for the operator"
	// +kubebuilder:validation:XValidation:rule="self.all(v, !has(v.hostPath))",message="podTemplate.volumes may not use hostPath: Pod Security restricted forbids it"
	// +kubebuilder:validation:XValidation:rule="self.all(v, !has(v.gcePersistentDisk) && !has(v.awsElasticBlockStore) && !has(v.gitRepo) && !has(v.nfs) && !has(v.iscsi) && !has(v.glusterfs) && !has(v.rbd) && !has(v.flexVolume) && !has(v.cinder) && !has(v.cephfs) && !has(v.flocker) && !has(v.fc) && !has(v.azureFile) && !has(v.vsphereVolume) && !has(v.quobyte) && !has(v.azureDisk) && !has(v.photonPersistentDisk) && !has(v.portworxVolume) && !has(v.scaleIO) && !has(v.storageos) && !has(v.image))",message="podTemplate.volumes may only be configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret: Pod Security restricted forbids other volume types"
	// +kubebuilder:validation:XValidation:rule="self.all(v, [has(v.configMap), has(v.csi), has(v.downwardAPI), has(v.emptyDir), has(v.ephemeral), has(v.persistentVolumeClaim), has(v.projected), has(v.secret)].exists_one(s, s))",message="podTemplate.volumes: each volume needs exactly one source among configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret"
	// +listType=map
	// +listMapKey=name
	// +optional
	Volumes []corev1.Volume `json:"volumes,omitempty"`

	// VolumeMounts of the trainer container, for the volumes above (or of
	// the operator's default template). The operator's paths (/etc/lcft,
	// /tmp, /mnt/pvc and below) and volumes are refused.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(m, m.mountPath.startsWith('/') && !m.mountPath.contains('..'))",message="podTemplate.volumeMounts mountPath must be an absolute path without '..'"
	// +kubebuilder:validation:XValidation:rule="self.all(m, !['/etc/lcft', '/tmp', '/mnt/pvc', '/dev/termination-log'].exists(p, m.mountPath == p || m.mountPath.startsWith(p + '/')) && m.mountPath != '/')",message="podTemplate.volumeMounts may not mount at /, /dev/termination-log, or at or below /etc/lcft, /tmp and /mnt/pvc: the operator mounts the run spec, scratch space and claims there"
	// +kubebuilder:validation:XValidation:rule="self.all(m, !(m.name in ['run-spec', 'scratch']) && !m.name.startsWith('pvc-'))",message="podTemplate.volumeMounts may not mount the operator's volumes (run-spec, scratch, pvc-*)"
	// +kubebuilder:validation:XValidation:rule="self.all(m, !has(m.mountPropagation) || m.mountPropagation != 'Bidirectional')",message="podTemplate.volumeMounts mountPropagation Bidirectional needs a privileged container, which Pod Security restricted forbids"
	// +listType=map
	// +listMapKey=mountPath
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// SecurityContext overrides the user and groups of the pod, for a volume
	// whose files belong to another user. The rest of the operator's
	// restricted security context (no privilege escalation, read-only root,
	// all capabilities dropped, seccomp RuntimeDefault) cannot change.
	// +optional
	SecurityContext *TrainerSecurityContext `json:"securityContext,omitempty"`
}

// TrainerSecurityContext is the part of a pod's security context that Pod
// Security "restricted" leaves to the user. Unset fields keep the operator's
// defaults: user, group and fsGroup 65532 (the trainer image's non-root user).
type TrainerSecurityContext struct {
	// RunAsUser is the UID of the trainer; 0 (root) is refused.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	// +kubebuilder:validation:XValidation:rule="self != 0",message="podTemplate.securityContext.runAsUser may not be 0: Pod Security restricted forbids running as root"
	// +optional
	RunAsUser *int64 `json:"runAsUser,omitempty"`
	// RunAsGroup is the primary GID of the trainer.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	// FSGroup owns the pod's volumes that support ownership management
	// (emptyDir, most PVCs) and is added to the trainer's groups.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	FSGroup *int64 `json:"fsGroup,omitempty"`
	// FSGroupChangePolicy: OnRootMismatch skips the recursive ownership change
	// of a large volume whose root already has the fsGroup.
	// +kubebuilder:validation:Enum=OnRootMismatch;Always
	// +optional
	FSGroupChangePolicy *corev1.PodFSGroupChangePolicy `json:"fsGroupChangePolicy,omitempty"`
	// SupplementalGroups added to the trainer's groups, for files readable by a group.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Minimum=0
	// +kubebuilder:validation:items:Maximum=2147483647
	// +listType=set
	// +optional
	SupplementalGroups []int64 `json:"supplementalGroups,omitempty"`
	// RunAsNonRoot may only be true (the operator's default).
	// +kubebuilder:validation:XValidation:rule="self",message="podTemplate.securityContext.runAsNonRoot may not be false: Pod Security restricted requires non-root"
	// +optional
	RunAsNonRoot *bool `json:"runAsNonRoot,omitempty"`
}

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// runIdentity is what a run means, and so what its hash (RunHashAnnotation,
// the end of its Job's name) covers: the run spec (data, model and its
// digest, correction policy, hyperparameters, shards, output), the object's
// own placement as its user wrote it (pool name, node selector, tolerations,
// affinity, resources, priority class), and the volumes and mounts of the
// pod template (they decide what file:// URIs read).
//
// It leaves out what the operator decides and may change under a running
// Job: the trainer image, the pool map (--pool-map), the operator's default
// resources and the pod's identity (env, service account, labels...; see
// PodTemplateHashAnnotation). A `helm upgrade` that changes them applies to
// runs started afterwards and never replaces a running (or finished) Job.
type runIdentity struct {
	Spec      runspec.Spec               `json:"spec"`
	Placement finetunev1alpha1.Placement `json:"placement"`
	Volumes   []corev1.Volume            `json:"volumes,omitempty"`
	Mounts    []corev1.VolumeMount       `json:"volumeMounts,omitempty"`
}

// runHash is the first 10 hex digits of the sha256 of the run's identity.
// spec is the run spec before pvc:// mounting and before the output URI
// gets the hash appended.
func runHash(spec runspec.Spec, placement finetunev1alpha1.Placement, t *finetunev1alpha1.TrainerPodTemplate) (string, error) {
	id := runIdentity{Spec: spec, Placement: placement}
	if t != nil {
		id.Volumes, id.Mounts = t.Volumes, t.VolumeMounts
	}
	raw, err := json.Marshal(id)
	if err != nil {
		return "", fmt.Errorf("encoding the run's identity: %w", err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])[:10], nil
}

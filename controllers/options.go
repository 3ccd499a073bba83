// Package controllers reconciles GlobalModels, CorrectionPolicies and
// FineTuneCohorts into Jobs that run the lcft-trainer, and turns the trainer's
// shard summaries into status. It holds no ML code: it meets the trainer only
// at the run spec and summary types of package trainer/runspec.
package controllers

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// DefaultTrainerImage is the trainer image when --trainer-image is unset.
const DefaultTrainerImage = "ghcr.io/lcft-dev/lcft-trainer:latest"

// ArchLabel is the well-known node label of the CPU architecture.
const ArchLabel = "kubernetes.io/arch"

// Labels the operator puts on everything it creates; the manager's cache only
// holds Jobs, Pods and ConfigMaps that carry ManagedByLabel.
const (
	ManagedByLabel  = "app.kubernetes.io/managed-by"
	ManagedByValue  = "lcft-operator"
	OwnerKindLabel  = "finetune.lcft.dev/owner-kind"
	OwnerNameLabel  = "finetune.lcft.dev/owner-name"
	GenerationLabel = "finetune.lcft.dev/generation"
)

// Options are the operator-level settings shared by the controllers.
type Options struct {
	// TrainerImage runs in every Job.
	TrainerImage string
	// ArtifactURI is the default artifact store directory.
	ArtifactURI string
	// Pools maps a pool name to its node selector.
	Pools PoolMap
	// TrainerPodTemplate is the operator's default pod template
	// (--trainer-pod-template-file); an object's spec.podTemplate merges
	// over it. Nil: none.
	TrainerPodTemplate *finetunev1alpha1.TrainerPodTemplate
	// TrainerResources of the trainer container when the object's
	// spec.placement.resources is unset (--trainer-resources-file). Nil:
	// DefaultTrainerResources.
	TrainerResources *corev1.ResourceRequirements
	// MaxJobRestarts is the restart budget of a run whose Job is deleted
	// before it finished (restart_policy.go); nil: DefaultMaxJobRestarts.
	MaxJobRestarts *int32
	// UnschedulableAfter is how long a run's pods may wait for a node
	// before the object says it cannot be scheduled
	// (scheduling_policy.go); 0: DefaultUnschedulableAfter.
	UnschedulableAfter time.Duration
	// ProgressInterval is how often a running object's progress is
	// polled from its pods and written (progress.go): 0 gives
	// DefaultProgressInterval, a negative value turns polling off, and
	// values below MinProgressInterval are raised to it.
	ProgressInterval time.Duration
	// ProgressPort is the trainer's progress port; 0:
	// runspec.DefaultProgressPort.
	ProgressPort int32
	// ProgressClient polls the pods (nil: a client with a 1 s timeout,
	// no proxy, no redirects).
	ProgressClient *http.Client
}

// LoadTrainerPodTemplate reads the operator's default pod template from a
// YAML or JSON file in the form of spec.podTemplate, and checks it against
// the rules the CRDs enforce on spec.podTemplate. An empty file name gives nil.
func LoadTrainerPodTemplate(file string) (*finetunev1alpha1.TrainerPodTemplate, error) {
	if file == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading --trainer-pod-template-file: %w", err)
	}
	t := &finetunev1alpha1.TrainerPodTemplate{}
	if err := yaml.UnmarshalStrict(raw, t); err != nil {
		return nil, fmt.Errorf("parsing --trainer-pod-template-file %s: %w", file, err)
	}
	if err := t.Validate("trainerPodTemplate"); err != nil {
		return nil, fmt.Errorf("--trainer-pod-template-file %s: %w", file, err)
	}
	if err := checkMounts(t, "trainerPodTemplate"); err != nil {
		return nil, fmt.Errorf("--trainer-pod-template-file %s: %w", file, err)
	}
	return t, nil
}

// LoadTrainerResources reads the trainer container's default resources
// (requests and limits, as in a container) from a YAML or JSON file. An
// empty file name gives nil.
func LoadTrainerResources(file string) (*corev1.ResourceRequirements, error) {
	if file == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading --trainer-resources-file: %w", err)
	}
	r := &corev1.ResourceRequirements{}
	if err := yaml.UnmarshalStrict(raw, r); err != nil {
		return nil, fmt.Errorf("parsing --trainer-resources-file %s: %w", file, err)
	}
	if len(r.Claims) > 0 {
		return nil, fmt.Errorf("--trainer-resources-file %s: claims are not supported", file)
	}
	for _, list := range []corev1.ResourceList{r.Requests, r.Limits} {
		for name, q := range list {
			if q.Sign() < 0 {
				return nil, fmt.Errorf("--trainer-resources-file %s: %s %s is negative", file, name, q.String())
			}
		}
	}
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			return nil, fmt.Errorf("--trainer-resources-file %s: the %s request %s is above its limit %s", file, name, req.String(), lim.String())
		}
	}
	return r, nil
}

// PoolMap maps a pool (arm64, amd64) to the node selector that places pods on it.
type PoolMap map[finetunev1alpha1.Pool]map[string]string

// DefaultPoolMap places pools by the kubernetes.io/arch label.
func DefaultPoolMap() PoolMap {
	return PoolMap{
		finetunev1alpha1.PoolARM64: {ArchLabel: "arm64"},
		finetunev1alpha1.PoolAMD64: {ArchLabel: "amd64"},
	}
}

// Selector returns the node selector of pool; "any" (or empty) selects nothing.
func (m PoolMap) Selector(pool finetunev1alpha1.Pool) map[string]string {
	if pool == "" || pool == finetunev1alpha1.PoolAny {
		return nil
	}
	return m[pool]
}

// LoadPoolMap builds the pool map from the --pool-map flag value
// ("arm64=key=value,amd64=key=value") or, when set, from a YAML/JSON file
// ({arm64: {key: value}, amd64: {...}}). Pools not named keep the default.
func LoadPoolMap(flagValue, file string) (PoolMap, error) {
	pools := DefaultPoolMap()
	overrides := map[finetunev1alpha1.Pool]map[string]string{}
	switch {
	case file != "":
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading --pool-map-file: %w", err)
		}
		if err := yaml.UnmarshalStrict(raw, &overrides); err != nil {
			return nil, fmt.Errorf("parsing --pool-map-file %s: %w", file, err)
		}
	case flagValue != "":
		for _, entry := range strings.Split(flagValue, ",") {
			pool, selector, ok := strings.Cut(strings.TrimSpace(entry), "=")
			key, value, ok2 := strings.Cut(selector, "=")
			if !ok || !ok2 || key == "" {
				return nil, fmt.Errorf("--pool-map entry %q is not pool=key=value", entry)
			}
			p := finetunev1alpha1.Pool(pool)
			if overrides[p] == nil {
				overrides[p] = map[string]string{}
			}
			overrides[p][key] = value
		}
	}
	names := make([]string, 0, len(overrides))
	for p := range overrides {
		names = append(names, string(p))
	}
	sort.Strings(names)
	for _, name := range names {
		p := finetunev1alpha1.Pool(name)
		if p != finetunev1alpha1.PoolARM64 && p != finetunev1alpha1.PoolAMD64 {
			return nil, fmt.Errorf("pool map names pool %q; pools are arm64 and amd64", name)
		}
		if _, err := labels.ValidatedSelectorFromSet(overrides[p]); err != nil {
			return nil, fmt.Errorf("pool map selector of %s: %w", name, err)
		}
		pools[p] = overrides[p]
	}
	return pools, nil
}

// Package controllers reconciles GlobalModels, CorrectionPolicies and
// FineTuneCohorts into Jobs that run the lcft-trainer, and turns the trainer's
// shard summaries into status. It holds no ML code: it meets the trainer only
// at the run spec and summary types of package trainer/runspec.
package controllers

import (
	"fmt"
	"os"
	"sort"
	"strings"

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
	// QueueNameLabel is Kueue's label; copied from a cohort onto its Job.
	QueueNameLabel = "kueue.x-k8s.io/queue-name"
)

// Options are the operator-level settings shared by the controllers.
type Options struct {
	// TrainerImage runs in every Job.
	TrainerImage string
	// ArtifactURI is the default artifact store directory.
	ArtifactURI string
	// Pools maps a pool name to its node selector.
	Pools PoolMap
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

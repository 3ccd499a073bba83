package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// The run's name (its hash) follows what the run means and nothing the
// operator decides: an upgrade that changes the image, the pool map, the
// default resources or the pods' identity keeps the name, so the running
// Job is found and kept.
func TestRunIdentityIsTheRunsMeaning(t *testing.T) {
	opts := Options{TrainerImage: "img:1", Pools: DefaultPoolMap()}
	base := testRun(v1.Placement{Pool: v1.PoolARM64})
	want, err := buildRun(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	mem := func(q string) *corev1.ResourceRequirements {
		return &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}}
	}
	cases := []struct {
		name    string
		change  func(*run, *Options)
		newName bool
	}{
		{"a new trainer image", func(_ *run, o *Options) { o.TrainerImage = "img:2" }, false},
		{"a new pool map", func(_ *run, o *Options) { o.Pools = PoolMap{v1.PoolARM64: {"node.example.com/pool": "graviton"}} }, false},
		{"new default resources", func(_ *run, o *Options) { o.TrainerResources = mem("8Gi") }, false},
		{"a new pod identity", func(r *run, _ *Options) {
			r.podTemplate = &v1.TrainerPodTemplate{ServiceAccountName: "reader", Env: []corev1.EnvVar{{Name: "AWS_REGION", Value: "eu-west-1"}}}
		}, false},
		{"suspend", func(r *run, _ *Options) { r.suspend = true }, false},
		{"parallelism", func(r *run, _ *Options) { r.parallelism = new(int32) }, false},
		{"run policy", func(r *run, _ *Options) { r.policy.BackoffLimit = new(int32) }, false},
		{"a new learning rate", func(r *run, _ *Options) { r.spec.Optimization.LearningRate = 0.5 }, true},
		{"more shards", func(r *run, _ *Options) { r.spec.Shards = 4 }, true},
		{"another dataset", func(r *run, _ *Options) { r.spec.Dataset.URI = "pvc://datasets/ml-25m" }, true},
		{"another pool", func(r *run, _ *Options) { r.placement.Pool = v1.PoolAMD64 }, true},
		{"the object's own resources", func(r *run, _ *Options) { r.placement.Resources = mem("4Gi") }, true},
		{"a volume of the pod template", func(r *run, _ *Options) {
			r.podTemplate = &v1.TrainerPodTemplate{Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, o := base, opts
			tc.change(&r, &o)
			got, err := buildRun(r, o)
			if err != nil {
				t.Fatal(err)
			}
			if changed := got.job.Name != want.job.Name; changed != tc.newName {
				t.Errorf("job name %s (before %s): changed %v, want %v", got.job.Name, want.job.Name, changed, tc.newName)
			}
		})
	}
}

package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// Every emptyDir of a trainer pod has a sizeLimit: the operator's scratch
// space at /tmp, and a template's emptyDir without one gets the same 1Gi; a
// template's own limit stays. The template itself is not changed.
func TestEveryEmptyDirHasASizeLimit(t *testing.T) {
	tmpl := &v1.TrainerPodTemplate{
		Volumes: []corev1.Volume{
			{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "big", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("5Gi"))}}},
			pvcVolume("data", "datasets"),
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}, {Name: "big", MountPath: "/big"}, {Name: "data", MountPath: "/data"}},
	}
	orig := tmpl.DeepCopy()
	r := testRun(v1.Placement{})
	var err error
	if r.podTemplate, err = mergePodTemplates(operatorDefault(), tmpl, "spec.podTemplate"); err != nil {
		t.Fatal(err)
	}
	objs, err := buildRun(r, Options{TrainerImage: "img", Pools: DefaultPoolMap()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range objs.job.Spec.Template.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		if v.EmptyDir.SizeLimit == nil {
			t.Errorf("emptyDir %s has no sizeLimit", v.Name)
			continue
		}
		got[v.Name] = v.EmptyDir.SizeLimit.String()
	}
	want := map[string]string{"scratch": "1Gi", "cache": "1Gi", "big": "5Gi"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("emptyDir size limits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orig, tmpl); diff != "" {
		t.Errorf("building the Job changed the object's template:\n%s", diff)
	}
}

package controllers

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// TestCohortTeacher: a Pooled cohort teaches with its group model and the
// selection of its users, a PerUser cohort with its user-models files, and
// a cohort that saved neither cannot teach.
func TestCohortTeacher(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "c"}
	for _, tc := range []struct {
		name   string
		cohort v1.FineTuneCohort
		want   runspec.Teacher
		bad    string
	}{
		{"pooled", v1.FineTuneCohort{ObjectMeta: meta,
			Spec:   v1.FineTuneCohortSpec{CTRRange: &v1.CTRRange{Min: "0", Max: "0.3"}, MinSamples: 7, Mode: v1.ModePooled},
			Status: v1.FineTuneCohortStatus{Model: &v1.CohortModel{URI: "s3://b/g.lcft", Digest: "sha256:ab"}}},
			runspec.Teacher{Name: "ns/c", GroupModel: &runspec.ModelArtifact{URI: "s3://b/g.lcft", Digest: "sha256:ab"},
				Cohort: &runspec.Cohort{MinCTR: 0, MaxCTR: 0.3, MinSamples: 7, Mode: "Pooled"}}, ""},
		{"per user", v1.FineTuneCohort{ObjectMeta: meta,
			Status: v1.FineTuneCohortStatus{UserModels: &v1.UserModelsStatus{URIs: []string{"s3://b/u0.lcftu", "s3://b/u1.lcftu"}}}},
			runspec.Teacher{Name: "ns/c", UserModels: []runspec.ModelArtifact{{URI: "s3://b/u0.lcftu"}, {URI: "s3://b/u1.lcftu"}}}, ""},
		{"no models", v1.FineTuneCohort{ObjectMeta: meta}, runspec.Teacher{}, "c saved no models"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cohortTeacher(&tc.cohort)
			if tc.bad != "" {
				if !errors.Is(err, errInvalidDistillation) || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("error %v, want an invalid distillation saying %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("teacher (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDistillationStatus: the trainer's comparison becomes signed decimals,
// an interval string and the significance of the interval.
func TestDistillationStatus(t *testing.T) {
	st := &runspec.DistillStats{PredecessorDigest: "sha256:ab", PredecessorAUC: 0.70388, TaughtUsers: 584, LongTailShare: 0.5, LongTailMaxRows: 29,
		Overall:  runspec.Comparison{Delta: 0.0008, Lo: -0.0029, Hi: 0.0044, Users: 454},
		LongTail: runspec.Comparison{Delta: 0.0137, Lo: 0.0052, Hi: 0.0214, Users: 227}}
	want := &v1.DistillationStatus{Predecessor: "wd", PredecessorDigest: "sha256:ab", PredecessorCloudAUC: "0.70388", TaughtUsers: 584,
		Overall:       v1.AUCComparison{Delta: "0.00080", Range: "[-0.00290, 0.00440]", Users: 454},
		LongTail:      v1.AUCComparison{Delta: "0.01370", Range: "[0.00520, 0.02140]", Significant: true, Users: 227},
		LongTailShare: "0.5", LongTailMaxRows: 29}
	if diff := cmp.Diff(want, distillationStatus("wd", st)); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if distillationStatus("wd", nil) != nil {
		t.Error("no statistics gave a status")
	}
}

// TestDistillTeachersAreMounted: the predecessor and teachers on pvc://
// claims are mounted read-only and rewritten in the Job's run spec, and
// the caller's spec keeps its URIs.
func TestDistillTeachersAreMounted(t *testing.T) {
	r := testRun(v1.Placement{})
	r.spec.Kind, r.spec.Shards, r.spec.GlobalModel = runspec.KindPretrain, 1, nil
	r.spec.Distill = &runspec.Distill{Predecessor: runspec.ModelArtifact{URI: "pvc://models/wd/model.lcft", Digest: "sha256:ab"}, Weight: 0.5,
		Teachers: []runspec.Teacher{
			{Name: "ns/a", UserModels: []runspec.ModelArtifact{{URI: "pvc://teachers/a/u0.lcftu"}}},
			{Name: "ns/b", GroupModel: &runspec.ModelArtifact{URI: "s3://b/g.lcft"}, Cohort: &runspec.Cohort{MaxCTR: 1}},
		}}
	objs, err := buildRun(r, Options{TrainerImage: "img", Pools: DefaultPoolMap()})
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]bool{}
	for _, m := range objs.job.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m.ReadOnly
	}
	if ro, ok := mounts["/mnt/pvc/teachers"]; !ok || !ro {
		t.Errorf("teachers claim mount: present %v, read-only %v (mounts %v)", ok, ro, mounts)
	}
	spec := objs.configMap.Data[specKey]
	for _, want := range []string{`"uri": "file:///mnt/pvc/models/wd/model.lcft"`, `"uri": "file:///mnt/pvc/teachers/a/u0.lcftu"`, `"uri": "s3://b/g.lcft"`} {
		if !strings.Contains(spec, want) {
			t.Errorf("run spec lacks %s:\n%s", want, spec)
		}
	}
	if r.spec.Distill.Predecessor.URI != "pvc://models/wd/model.lcft" || r.spec.Distill.Teachers[0].UserModels[0].URI != "pvc://teachers/a/u0.lcftu" {
		t.Errorf("buildRun rewrote the caller's spec: %+v", r.spec.Distill)
	}
}

package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// An imported model is Ready only once a verify Job has loaded the artifact
// and matched its digest; a wrong digest fails it with the trainer's message.
func TestImportedModelIsVerified(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	newFakeCluster(t, ns)
	startManager(t)

	trained := modelObj(ns, "trained")
	create(t, trained)
	waitModel(t, trained)

	imported := &v1.GlobalModel{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "imported"},
		Spec: v1.GlobalModelSpec{
			Architecture:    v1.ArchitectureWideDeep,
			Hyperparameters: trained.Spec.Hyperparameters,
			Import:          &v1.ModelImport{ArtifactURI: trained.Status.ArtifactURI, Digest: trained.Status.Digest, GlobalCTR: trained.Status.GlobalCTR},
		},
	}
	wrong := imported.DeepCopy()
	wrong.Name = "wrong-digest"
	wrong.Spec.Import.Digest = "sha256:" + strings.Repeat("0", 64)
	create(t, imported, wrong)

	waitModel(t, imported)
	if imported.Status.Digest != trained.Status.Digest || imported.Status.ArtifactURI != trained.Status.ArtifactURI || imported.Status.GlobalCTR != trained.Status.GlobalCTR {
		t.Errorf("imported status %+v does not describe the artifact %s (%s)", imported.Status, trained.Status.ArtifactURI, trained.Status.Digest)
	}
	waitPhase(t, wrong, func() v1.Phase { return wrong.Status.Phase }, v1.PhaseFailed)
	cond := meta.FindStatusCondition(wrong.Status.Conditions, v1.ConditionFailed)
	if cond == nil || cond.Reason != "TrainerFailed" || !strings.Contains(cond.Message, "digest") {
		t.Fatalf("Failed condition should carry the trainer's digest message: %+v", cond)
	}
	t.Logf("wrong digest: %s", cond.Message)
	if pods := podsOf(t, ns, wrong.Status.JobName); len(pods) != 1 {
		t.Errorf("a digest mismatch must not be retried: %d pods ran", len(pods))
	}

	// A cohort can start from the imported model.
	c := cohortObj(ns, "from-import", "imported")
	create(t, c)
	waitCohort(t, c, v1.PhaseSucceeded)
}

package runspec

import (
	"strings"
	"testing"
)

// TestDistillValidate: each broken distillation is refused with a message
// naming what is wrong.
func TestDistillValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"no predecessor digest", func(s *Spec) { s.Distill.Predecessor.Digest = "" }, "predecessor needs a URI and a digest"},
		{"weight 0", func(s *Spec) { s.Distill.Weight = 0 }, "weight 0 is outside (0, 1]"},
		{"weight above 1", func(s *Spec) { s.Distill.Weight = 1.5 }, "weight 1.5 is outside"},
		{"init", func(s *Spec) { s.Distill.Init = "Warm" }, `init "Warm"`},
		{"share", func(s *Spec) { s.Distill.LongTailShare = 2 }, "longTailShare 2"},
		{"no teachers", func(s *Spec) { s.Distill.Teachers = nil }, "needs 1 to 64 teachers"},
		{"both", func(s *Spec) { s.Distill.Teachers[1].UserModels = s.Distill.Teachers[0].UserModels }, "(ns/high): userModels and groupModel are exclusive"},
		{"neither", func(s *Spec) { s.Distill.Teachers[0].UserModels = nil }, "(ns/low): needs userModels or a groupModel"},
		{"group without cohort", func(s *Spec) { s.Distill.Teachers[1].Cohort = nil }, "(ns/high): a groupModel needs the cohort"},
		{"empty URI", func(s *Spec) { s.Distill.Teachers[0].UserModels[0].URI = "" }, "userModels 0 needs a URI"},
		{"shards", func(s *Spec) { s.Shards = 2 }, "one shard"},
		{"not pretrain", func(s *Spec) { s.Kind = KindVerify; s.GlobalModel = s.Distill.Predecessor.clone() }, "distill is for kind pretrain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpecs()["distill"]
			tc.change(s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if err := validSpecs()["distill"].Validate(); err != nil {
		t.Errorf("valid distill spec: %v", err)
	}
}

func (a ModelArtifact) clone() *ModelArtifact { return &a }

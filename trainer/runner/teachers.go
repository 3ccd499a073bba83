package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// teaching is the outcome of applying a distillation's teachers to the
// training rows: the rows with their targets, and what taught them.
type teaching struct {
	samples       []data.Sample // fit's rows; a taught user's Label is its soft target
	taughtUsers   int64
	taughtSamples int64
	rolledBack    int64
	perTeacher    []int64 // users taught by each teacher
}

// teach returns fit's rows with the soft target w*p + (1-w)*y for every row
// of a user a teacher holds (p the teacher's click probability, y the 0/1
// label), and the hard label for the others. Teachers are applied in
// order; a user several teachers hold is taught by the first. base is the
// predecessor (digest baseDigest) every teacher was fine-tuned from; train
// and test are the split the teachers' cohorts select their users from.
//
// A teacher artifact that cannot be read, does not load, has another
// digest than the spec's or was made from another model is bad input
// naming the teacher and the artifact.
func teach(ctx context.Context, d *runspec.Distill, base *model.Model, baseDigest string, fit, train, test *data.Dataset) (*teaching, error) {
	out := &teaching{samples: slices.Clone(fit.Samples), perTeacher: make([]int64, len(d.Teachers))}
	ranges := make(map[int32]data.Range)
	for _, r := range data.UserRanges(fit) {
		ranges[r.User] = r
	}
	taught := make(map[int32]bool)
	rep, err := base.Fork()
	if err != nil {
		return nil, fmt.Errorf("forking the predecessor: %w", err)
	}
	var logits []float32
	// apply sets the targets of user u's rows from scorer's logits.
	apply := func(i int, u int32, scorer *model.Model) error {
		r, ok := ranges[u]
		if !ok || taught[u] {
			return nil
		}
		rows := out.samples[r.Start:r.End]
		logits = growF32(logits, len(rows))
		if err := scorer.Predict(rows, logits); err != nil {
			return badInput("teacher %d (%s): scoring user %q: %w", i, d.Teachers[i].Name, fit.Vocab.Users.Name(u), err)
		}
		for k := range rows {
			p := float64(model.Sigmoid(logits[k]))
			rows[k].Label = float32(d.Weight*p + (1-d.Weight)*float64(rows[k].Label))
		}
		taught[u] = true
		out.taughtUsers++
		out.taughtSamples += int64(len(rows))
		out.perTeacher[i]++
		return nil
	}
	for i, t := range d.Teachers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("distillation interrupted: %w", err)
		}
		if t.GroupModel != nil {
			gm, err := loadGroupTeacher(ctx, i, t, base)
			if err != nil {
				return nil, err
			}
			sel := selectCohort(train, test, *t.Cohort, max(t.Cohort.MinSamples, 1), 1)
			for _, cu := range sel.users {
				u, _ := train.Vocab.Users.ID(cu.raw)
				if err := apply(i, u, gm); err != nil {
					return nil, err
				}
			}
			continue
		}
		for _, a := range t.UserModels {
			um, err := readUserModelsTeacher(ctx, i, t.Name, a, baseDigest)
			if err != nil {
				return nil, err
			}
			for _, e := range um.Index.Users {
				u, ok := train.Vocab.Users.ID(e.User)
				if !ok || taught[u] {
					continue
				}
				if e.RolledBack {
					out.rolledBack++
					continue
				}
				delta, _, err := um.Delta(e.User, base)
				if err != nil {
					return nil, fmt.Errorf("teacher %d (%s), %s: %w", i, t.Name, a.URI, err)
				}
				if err := rep.ApplyDelta(delta); err != nil {
					return nil, badInput("teacher %d (%s), %s: user %q: %w", i, t.Name, a.URI, e.User, err)
				}
				if err := apply(i, u, rep.Model); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// loadGroupTeacher loads a Pooled cohort's group model and checks that it
// is a fine-tuning of base: same architecture and sizes, same rows.
func loadGroupTeacher(ctx context.Context, i int, t runspec.Teacher, base *model.Model) (*model.Model, error) {
	gm, _, err := LoadModel(ctx, t.GroupModel)
	if err != nil {
		return nil, fmt.Errorf("teacher %d (%s): group model %s: %w", i, t.Name, t.GroupModel.URI, err)
	}
	if a, b := gm.Config(), base.Config(); a.Arch != b.Arch || a.EmbeddingDim != b.EmbeddingDim || !slices.Equal(a.HiddenUnits, b.HiddenUnits) || gm.Schema() != base.Schema() {
		return nil, badInput("teacher %d (%s): group model %s (%s, dim %d, hidden %v, %+v) is not a fine-tuning of the predecessor (%s, dim %d, hidden %v, %+v)",
			i, t.Name, t.GroupModel.URI, a.Arch, a.EmbeddingDim, a.HiddenUnits, gm.Schema(), b.Arch, b.EmbeddingDim, b.HiddenUnits, base.Schema())
	}
	return gm, nil
}

// readUserModelsTeacher reads a PerUser cohort's user-models file, checks
// its digest when a names one, and checks that its deltas apply to the
// predecessor (digest baseDigest).
func readUserModelsTeacher(ctx context.Context, i int, name string, a runspec.ModelArtifact, baseDigest string) (*UserModels, error) {
	b, err := storage.ReadAll(ctx, a.URI)
	if err != nil {
		return nil, fmt.Errorf("teacher %d (%s): %w", i, name, storageError(err, "reading the user models %s", a.URI))
	}
	got := DigestPrefix + hexSHA256(b)
	if want := strings.ToLower(strings.TrimSpace(a.Digest)); want != "" && want != got {
		return nil, badInput("teacher %d (%s): user models %s have digest %s, the spec expects %s", i, name, a.URI, got, a.Digest)
	}
	um, err := parseUserModels(b)
	if err != nil {
		return nil, badInput("teacher %d (%s): user models %s: %w", i, name, a.URI, err)
	}
	if um.Header.ModelDigest != baseDigest {
		return nil, badInput("teacher %d (%s): user models %s were made from the model %s, not the predecessor %s", i, name, a.URI, um.Header.ModelDigest, baseDigest)
	}
	return um, nil
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

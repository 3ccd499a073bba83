package model

import "github.com/lcft-dev/lcft-operator/trainer/data"

// linear is the LR model, also the wide part of WideDeep:
//
//	z = bias + user[u] + item[i] + mean_c cat[c] + mean_p pos[p] + mean_n neg[n]
//
// with 1-wide tables user (NumUsers rows), item, pos and neg (NumItems rows
// each) and cat (NumCategories rows). Empty lists add 0.
type linear struct {
	bias                      *dense // 1×1
	user, item, cat, pos, neg *table // rows×1
}

func newLinear(p *params, s data.Schema) *linear {
	return &linear{
		bias: p.dense("linear.bias", 1, 1, 0),
		user: p.table("linear.user", s.NumUsers, 1, 0),
		item: p.table("linear.item", s.NumItems, 1, 0),
		cat:  p.table("linear.category", s.NumCategories, 1, 0),
		pos:  p.table("linear.posHistory", s.NumItems, 1, 0),
		neg:  p.table("linear.negHistory", s.NumItems, 1, 0),
	}
}

// forward sets z[i] to the linear logit of batch[i].
func (l *linear) forward(batch []data.Sample, z []float32) {
	b := l.bias.data[0]
	for i := range batch {
		s := &batch[i]
		z[i] = b + l.user.at(s.User) + l.item.at(s.Item) +
			meanAt(l.cat, s.Categories()) + meanAt(l.pos, s.PosHistory()) + meanAt(l.neg, s.NegHistory())
	}
}

// backward accumulates the gradients given dz = dL/dz per sample.
func (l *linear) backward(batch []data.Sample, dz []float32) {
	var sum float32
	for i := range batch {
		s := &batch[i]
		g := dz[i]
		sum += g
		l.user.gradRow(s.User)[0] += g
		l.item.gradRow(s.Item)[0] += g
		spreadAt(l.cat, s.Categories(), g)
		spreadAt(l.pos, s.PosHistory(), g)
		spreadAt(l.neg, s.NegHistory(), g)
	}
	l.bias.grad[0] += sum
}

// meanAt returns the mean of a 1-wide table over rows, 0 for no rows.
func meanAt(t *table, rows []int32) float32 {
	if len(rows) == 0 {
		return 0
	}
	var s float32
	for _, r := range rows {
		s += t.at(r)
	}
	return s / float32(len(rows))
}

// spreadAt adds g/len(rows) to the gradient of each of rows.
func spreadAt(t *table, rows []int32, g float32) {
	if len(rows) == 0 {
		return
	}
	g /= float32(len(rows))
	for _, r := range rows {
		t.gradRow(r)[0] += g
	}
}

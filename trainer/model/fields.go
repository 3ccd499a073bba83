package model

import (
	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/kernels"
)

// numFields is the number of embedded fields: user, item, categories,
// positive history, negative history.
const numFields = 5

// fields embeds the five feature fields of a sample into one row of
// numFields*dim values: [user, item, mean categories, mean positive history,
// mean negative history]. The histories use the item table.
type fields struct {
	user, item, cat *table // rows×dim
	dim             int
}

// newFields declares the embedding tables, rows drawn from N(0, std²).
func newFields(p *params, s data.Schema, dim int, embedStd float32) *fields {
	return &fields{
		user: p.table("embed.user", s.NumUsers, dim, embedStd),
		item: p.table("embed.item", s.NumItems, dim, embedStd),
		cat:  p.table("embed.category", s.NumCategories, dim, embedStd),
		dim:  dim,
	}
}

// forward writes the embedded fields of batch[i] into x[i*ld:], ld >=
// numFields*dim.
func (f *fields) forward(batch []data.Sample, x []float32, ld int) {
	d := f.dim
	for i := range batch {
		s := &batch[i]
		row := x[i*ld : i*ld+numFields*d]
		f.forwardIDs(s, row)
		meanRows(f.item, s.PosHistory(), row[3*d:4*d])
		meanRows(f.item, s.NegHistory(), row[4*d:5*d])
	}
}

// forwardIDs writes the first three fields of s (user, item, mean
// categories) into row[:3*dim].
func (f *fields) forwardIDs(s *data.Sample, row []float32) {
	d := f.dim
	copy(row[0:d], f.user.row(s.User))
	copy(row[d:2*d], f.item.row(s.Item))
	meanRows(f.cat, s.Categories(), row[2*d:3*d])
}

// backward accumulates the embedding gradients given dx, the gradient of
// the loss with respect to x (same layout as forward's).
func (f *fields) backward(batch []data.Sample, dx []float32, ld int) {
	d := f.dim
	for i := range batch {
		s := &batch[i]
		row := dx[i*ld : i*ld+numFields*d]
		f.backwardIDs(s, row)
		spreadRows(f.item, s.PosHistory(), row[3*d:4*d])
		spreadRows(f.item, s.NegHistory(), row[4*d:5*d])
	}
}

// backwardIDs accumulates the gradients of the first three fields of s
// given their gradient row[:3*dim].
func (f *fields) backwardIDs(s *data.Sample, row []float32) {
	d := f.dim
	add(f.user.gradRow(s.User), row[0:d])
	add(f.item.gradRow(s.Item), row[d:2*d])
	spreadRows(f.cat, s.Categories(), row[2*d:3*d])
}

// meanRows writes the mean of t's rows into dst, zeros for no rows.
func meanRows(t *table, rows []int32, dst []float32) {
	clear(dst)
	if len(rows) == 0 {
		return
	}
	for _, r := range rows {
		add(dst, t.row(r))
	}
	scale(dst, 1/float32(len(rows)))
}

// spreadRows adds g/len(rows) to the gradient of each of rows.
func spreadRows(t *table, rows []int32, g []float32) {
	if len(rows) == 0 {
		return
	}
	a := 1 / float32(len(rows))
	for _, r := range rows {
		axpy(a, g, t.gradRow(r))
	}
}

// add sets dst += src.
func add(dst, src []float32) { kernels.Axpy(1, src, dst) }

// axpy sets dst += a*src.
func axpy(a float32, src, dst []float32) { kernels.Axpy(a, src, dst) }

// dot returns the inner product of a and b.
func dot(a, b []float32) float32 { return kernels.Dot(a, b) }

// scale sets dst *= a.
func scale(dst []float32, a float32) {
	for i := range dst {
		dst[i] *= a
	}
}

package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Delta is what fine-tuning changed in a replica: the embedding rows it
// wrote, with their new values, and the new values of its dense parameters
// (none when they were frozen). Applied to the same base (ApplyDelta), it
// gives back the fine-tuned model exactly: values are stored, not
// differences, so no rounding comes in.
type Delta struct {
	// Tables holds one entry per embedding table, in declaration order.
	Tables []TableDelta
	// Dense holds one entry per dense parameter, in declaration order: its
	// values, or nil when the replica left it as the base's.
	Dense [][]float32
	// Patch holds the values of a patched replica's patch vectors (see
	// Replica.UsePatch), concatenated in declaration order, or nil when the
	// replica has no patch or left it at the identity.
	Patch []float32
}

// TableDelta are the rows of one table a replica wrote.
type TableDelta struct {
	Rows   []int32   // ascending
	Values []float32 // len(Rows)*dim values, row by row
}

// Delta returns a copy of what the replica changed since Fork or Reset.
func (r *Replica) Delta() *Delta {
	d := &Delta{Tables: make([]TableDelta, len(r.p.tables)), Dense: make([][]float32, len(r.p.denses))}
	for i, t := range r.p.tables {
		rows := append(make([]int32, 0, len(t.ovRows)), t.ovRows...)
		slices.Sort(rows)
		vals := make([]float32, 0, len(rows)*t.dim)
		for _, row := range rows {
			vals = append(vals, t.row(row)...)
		}
		d.Tables[i] = TableDelta{Rows: rows, Values: vals}
	}
	for i, p := range r.p.denses {
		if p.dirty {
			d.Dense[i] = slices.Clone(p.data)
		}
	}
	d.Patch = r.patchValues()
	return d
}

// ApplyDelta resets the replica to its base and writes d into it. d must
// have the replica's shapes (rows in range, ascending, the right number of
// values); on error the replica is reset. A delta with a Patch gives a
// replica without one its patch (UsePatch(true)).
func (r *Replica) ApplyDelta(d *Delta) error {
	r.Reset()
	if err := r.checkDelta(d); err != nil {
		return fmt.Errorf("model: apply delta: %w", err)
	}
	if d.Patch != nil && r.patch == nil {
		r.UsePatch(true)
	}
	for i, t := range r.p.tables {
		td := d.Tables[i]
		sd := r.p.stateLen * t.dim
		for k, row := range td.Rows {
			slot := t.overlay(row, sd)
			copy(t.ov[int(slot)*t.dim:int(slot+1)*t.dim], td.Values[k*t.dim:(k+1)*t.dim])
		}
	}
	for i, p := range r.p.denses {
		if v := d.Dense[i]; v != nil {
			copy(p.data, v)
			p.dirty = true
		}
	}
	if d.Patch != nil {
		if err := r.setPatch(d.Patch); err != nil {
			return fmt.Errorf("model: apply delta: %w", err)
		}
	}
	return nil
}

func (r *Replica) checkDelta(d *Delta) error {
	if d == nil || len(d.Tables) != len(r.p.tables) || len(d.Dense) != len(r.p.denses) {
		return errors.New("delta does not have the model's parameters")
	}
	for i, t := range r.p.tables {
		td := d.Tables[i]
		if len(td.Values) != len(td.Rows)*t.dim {
			return fmt.Errorf("table %q: %d values for %d rows of %d", t.name, len(td.Values), len(td.Rows), t.dim)
		}
		for k, row := range td.Rows {
			if row < 0 || int(row) >= t.rows || k > 0 && row <= td.Rows[k-1] {
				return fmt.Errorf("table %q: row %d out of range [0, %d) or not ascending", t.name, row, t.rows)
			}
		}
		if i, v, bad := firstNonFinite(td.Values); bad {
			return fmt.Errorf("%w: table %q value %d is %v", ErrNonFinite, t.name, i, v)
		}
	}
	for i, p := range r.p.denses {
		v := d.Dense[i]
		if v == nil {
			continue
		}
		if len(v) != len(p.data) {
			return fmt.Errorf("parameter %q: %d values, want %d", p.name, len(v), len(p.data))
		}
		if j, x, bad := firstNonFinite(v); bad {
			return fmt.Errorf("%w: parameter %q value %d is %v", ErrNonFinite, p.name, j, x)
		}
	}
	if d.Patch != nil {
		if n := patchLen(r.net); len(d.Patch) != n {
			return fmt.Errorf("patch: %d values, want %d", len(d.Patch), n)
		}
		if j, x, bad := firstNonFinite(d.Patch); bad {
			return fmt.Errorf("%w: patch value %d is %v", ErrNonFinite, j, x)
		}
	}
	return nil
}

// AppendBinary appends d's encoding to b: per table the row count, the
// rows as gaps from the previous row (unsigned varints) and the values
// (float32, little-endian); then the number of dense parameters present
// and, for each, its index (uvarint) and values. A delta with a Patch
// marks it in the count of dense parameters, which is then D+1+n for D
// dense parameters in the model and n present (a count no delta without a
// patch can have), and ends with the number of patch values (uvarint) and
// the values. A delta without a patch encodes as before patches existed.
// The encoding does not name shapes: DecodeDelta reads it against the
// model.
func (d *Delta) AppendBinary(b []byte) []byte {
	for _, td := range d.Tables {
		b = binary.AppendUvarint(b, uint64(len(td.Rows)))
		prev := int64(-1)
		for _, r := range td.Rows {
			b = binary.AppendUvarint(b, uint64(int64(r)-prev-1))
			prev = int64(r)
		}
		b = appendFloats(b, td.Values)
	}
	n := 0
	for _, v := range d.Dense {
		if v != nil {
			n++
		}
	}
	if len(d.Patch) > 0 {
		n += len(d.Dense) + 1
	}
	b = binary.AppendUvarint(b, uint64(n))
	for i, v := range d.Dense {
		if v != nil {
			b = binary.AppendUvarint(b, uint64(i))
			b = appendFloats(b, v)
		}
	}
	if len(d.Patch) > 0 {
		b = binary.AppendUvarint(b, uint64(len(d.Patch)))
		b = appendFloats(b, d.Patch)
	}
	return b
}

func appendFloats(b []byte, v []float32) []byte {
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// DecodeDelta reads a delta written by AppendBinary for a replica of m (a
// base model or a replica's base): the table and parameter shapes come
// from m. It fails on truncation, trailing bytes, rows out of range and
// non-finite values; it never allocates more than the input can fill.
func DecodeDelta(b []byte, m *Model) (*Delta, error) {
	if m.base != nil {
		m = m.base
	}
	d := &Delta{Tables: make([]TableDelta, len(m.p.tables)), Dense: make([][]float32, len(m.p.denses))}
	rd := deltaReader{b: b}
	for i, t := range m.p.tables {
		n := rd.uvarint()
		if rd.err == nil && (n > uint64(t.rows) || n*uint64(4*t.dim) > uint64(len(rd.b))) {
			rd.fail("table %q: %d rows", t.name, n)
		}
		if rd.err != nil {
			return nil, fmt.Errorf("model: decode delta: %w", rd.err)
		}
		rows := make([]int32, n)
		prev := int64(-1)
		for k := range rows {
			gap := rd.uvarint()
			if rd.err == nil && gap >= uint64(t.rows) || prev+1+int64(gap) >= int64(t.rows) {
				rd.fail("table %q: row %d out of range [0, %d)", t.name, prev+1+int64(min(gap, uint64(t.rows))), t.rows)
				break
			}
			prev += 1 + int64(gap)
			rows[k] = int32(prev)
		}
		d.Tables[i] = TableDelta{Rows: rows, Values: rd.floats(int(n) * t.dim)}
	}
	n := rd.uvarint()
	hasPatch := n > uint64(len(m.p.denses))
	if hasPatch {
		n -= uint64(len(m.p.denses)) + 1
	}
	if rd.err == nil && n > uint64(len(m.p.denses)) {
		rd.fail("%d dense parameters, the model has %d", n, len(m.p.denses))
	}
	prev := -1
	for range n {
		if rd.err != nil {
			break
		}
		i := rd.uvarint()
		if rd.err == nil && (i >= uint64(len(m.p.denses)) || int(i) <= prev) {
			rd.fail("dense parameter %d out of range or repeated", i)
			break
		}
		p := m.p.denses[i]
		d.Dense[i], prev = rd.floats(len(p.data)), int(i)
	}
	if rd.err == nil && hasPatch {
		want := patchLen(m.net)
		if k := rd.uvarint(); rd.err == nil && (k != uint64(want) || want == 0) {
			rd.fail("%d patch values, the model's patch has %d", k, want)
		}
		d.Patch = rd.floats(want)
	}
	if rd.err == nil && len(rd.b) > 0 {
		rd.fail("%d trailing bytes", len(rd.b))
	}
	if rd.err != nil {
		return nil, fmt.Errorf("model: decode delta: %w", rd.err)
	}
	return d, nil
}

// deltaReader reads a delta's encoding, keeping the first error.
type deltaReader struct {
	b   []byte
	err error
}

func (r *deltaReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *deltaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail("truncated or malformed varint")
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *deltaReader) floats(n int) []float32 {
	if r.err != nil {
		return nil
	}
	if n < 0 || 4*n > len(r.b) {
		r.fail("truncated: %d values needed, %d bytes left", n, len(r.b))
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[4*i:]))
		if f := v[i]; f-f != 0 {
			r.fail("%w: value %v", ErrNonFinite, f)
			return nil
		}
	}
	r.b = r.b[4*n:]
	return v
}

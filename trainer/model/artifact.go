package model

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// Artifact format, all integers and floats little-endian:
//
//	magic          8 bytes  "LCFTMDL\x00"
//	version        uint32   FormatVersion
//	header length  uint32   n, at most maxHeader
//	header         n bytes  JSON: {"config", "schema", "params", "datasetDigest"}
//	vocabulary              (format 2, when the header's "vocabulary" is
//	                        true) users, items, categories: each a uvarint
//	                        count (the schema's) then that many raw ids,
//	                        each a uvarint length and its bytes
//	tensors        float32  one per header param, in order, rows*cols values
//	                        each, row-major
//
// Format 1 (no vocabulary, no digest) is still read.
// The header's params list every embedding table (kind "table", shape
// [rows, dim]) in declaration order, then every dense parameter (kind
// "dense", shape [rows, cols]). Nothing follows the last tensor.
const (
	// Magic opens every model artifact.
	Magic = "LCFTMDL\x00"
	// FormatVersion is the artifact format version this package writes
	// and reads.
	FormatVersion uint32 = 2

	maxHeader = 1 << 20 // bytes
)

type header struct {
	Config        Config       `json:"config"`
	Schema        headerSchema `json:"schema"`
	Params        []paramShape `json:"params"`
	Vocabulary    bool         `json:"vocabulary,omitempty"`    // a vocabulary section follows (format 2)
	DatasetDigest string       `json:"datasetDigest,omitempty"` // sha256:<hex> of the training data
}

type headerSchema struct {
	NumUsers      int `json:"numUsers"`
	NumItems      int `json:"numItems"`
	NumCategories int `json:"numCategories"`
	HistoryLen    int `json:"historyLen"`
}

type paramShape struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // "table" or "dense"
	Shape [2]int `json:"shape"`
}

func (p *params) shapes() []paramShape {
	var s []paramShape
	for _, t := range p.tables {
		s = append(s, paramShape{Name: t.name, Kind: "table", Shape: [2]int{t.rows, t.dim}})
	}
	for _, d := range p.denses {
		s = append(s, paramShape{Name: d.name, Kind: "dense", Shape: [2]int{d.rows, d.cols}})
	}
	return s
}

// Save writes the model as an artifact to w and returns the lowercase hex
// sha256 digest of the bytes written. A replica writes its merged
// parameters (base plus overlay), which load as a base model. A model with
// a NaN or infinite parameter is refused (Load would refuse the artifact);
// w may then hold a partial artifact.
func (m *Model) Save(w io.Writer) (digest string, err error) {
	return m.save(w, m.Provenance())
}

// SaveWithProvenance is Save recording p in the artifact instead of the
// model's own provenance: a fine-tuned replica has its base's vocabulary
// (the same rows) but was last trained on other data, whose digest p
// carries. p's vocabulary, when set, must match the schema.
func (m *Model) SaveWithProvenance(w io.Writer, p Provenance) (digest string, err error) {
	if err := m.checkProvenance(p); err != nil {
		return "", fmt.Errorf("model: save: %w", err)
	}
	return m.save(w, p)
}

func (m *Model) save(w io.Writer, prov Provenance) (digest string, err error) {
	if m.patchDirty() {
		return "", errors.New("model: save: the replica has a trained patch, which an artifact has no place for; save its Delta")
	}
	h := header{
		Config:        m.cfg,
		Schema:        headerSchema{m.schema.NumUsers, m.schema.NumItems, m.schema.NumCategories, m.schema.HistoryLen},
		Params:        m.p.shapes(),
		Vocabulary:    prov.Vocab != nil,
		DatasetDigest: prov.DatasetDigest,
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("model: save: encoding header: %w", err)
	}
	if len(hb) > maxHeader {
		return "", fmt.Errorf("model: save: header of %d bytes exceeds %d", len(hb), maxHeader)
	}
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<16)
	var pre [16]byte
	copy(pre[:8], Magic)
	binary.LittleEndian.PutUint32(pre[8:], FormatVersion)
	binary.LittleEndian.PutUint32(pre[12:], uint32(len(hb)))
	bw.Write(pre[:])
	bw.Write(hb)
	if prov.Vocab != nil {
		writeVocab(bw, prov.Vocab)
	}
	enc := make([]byte, 0, 1<<16)
	var bad error
	put := func(name string, row int, v []float32) {
		for i, f := range v {
			if f-f != 0 && bad == nil { // NaN or ±Inf
				bad = fmt.Errorf("model: save: %w: %q row %d value %d is %v", ErrNonFinite, name, row, i, f)
			}
			if len(enc) == cap(enc) {
				bw.Write(enc)
				enc = enc[:0]
			}
			enc = binary.LittleEndian.AppendUint32(enc, math.Float32bits(f))
		}
	}
	for _, t := range m.p.tables {
		for r := range t.rows {
			put(t.name, r, t.row(int32(r)))
		}
	}
	for _, d := range m.p.denses {
		put(d.name, 0, d.data)
	}
	bw.Write(enc)
	if bad != nil {
		return "", bad
	}
	// bufio.Writer keeps the first error; Flush reports it.
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("model: save: %w", err)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// Load reads an artifact written by Save, reading r to its end. It fails
// with a descriptive error on a wrong magic or version, a malformed header,
// parameter shapes that do not match the header's architecture, non-finite
// values, truncation or trailing bytes. Memory grows with the bytes actually
// read, so a corrupt header cannot make Load allocate much.
func Load(r io.Reader) (*Model, error) {
	var pre [16]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("model: load: reading preamble: %w", truncated(err))
	}
	if string(pre[:8]) != Magic {
		return nil, fmt.Errorf("model: load: not a model artifact (magic %q, want %q)", pre[:8], Magic)
	}
	version := binary.LittleEndian.Uint32(pre[8:])
	if version != 1 && version != FormatVersion {
		return nil, fmt.Errorf("model: load: unsupported format version %d (this build reads 1 and %d)", version, FormatVersion)
	}
	n := binary.LittleEndian.Uint32(pre[12:])
	if n > maxHeader {
		return nil, fmt.Errorf("model: load: header length %d exceeds %d", n, maxHeader)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("model: load: reading header: %w", truncated(err))
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("model: load: decoding header: %w", err)
	}
	if dec.More() {
		return nil, errors.New("model: load: decoding header: trailing data after JSON")
	}
	schema := data.Schema{
		NumUsers:      h.Schema.NumUsers,
		NumItems:      h.Schema.NumItems,
		NumCategories: h.Schema.NumCategories,
		HistoryLen:    h.Schema.HistoryLen,
	}
	m, err := build(h.Config, schema)
	if err != nil {
		return nil, fmt.Errorf("model: load: header: %w", err)
	}
	want := m.p.shapes()
	if len(h.Params) != len(want) {
		return nil, fmt.Errorf("model: load: shape mismatch: header lists %d parameters, %s has %d", len(h.Params), h.Config.Arch, len(want))
	}
	for i, p := range h.Params {
		if p != want[i] {
			return nil, fmt.Errorf("model: load: shape mismatch: parameter %d is %s %q %v in the header, %s expects %s %q %v",
				i, p.Kind, p.Name, p.Shape, h.Config.Arch, want[i].Kind, want[i].Name, want[i].Shape)
		}
	}
	if version == 1 && (h.Vocabulary || h.DatasetDigest != "") {
		return nil, errors.New("model: load: a format 1 artifact has no vocabulary or dataset digest")
	}
	m.prov.DatasetDigest = h.DatasetDigest
	if h.Vocabulary {
		if m.prov.Vocab, err = readVocab(r, schema); err != nil {
			return nil, fmt.Errorf("model: load: %w", err)
		}
	}
	for _, t := range m.p.tables {
		if t.data, err = readFloats(r, t.rows*t.dim); err != nil {
			return nil, fmt.Errorf("model: load: tensor %q: %w", t.name, err)
		}
	}
	for _, d := range m.p.denses {
		if d.data, err = readFloats(r, d.rows*d.cols); err != nil {
			return nil, fmt.Errorf("model: load: tensor %q: %w", d.name, err)
		}
		d.grad = make([]float32, len(d.data))
	}
	var one [1]byte
	switch k, err := io.ReadFull(r, one[:]); {
	case k > 0:
		return nil, errors.New("model: load: trailing data after the last tensor")
	case err != io.EOF:
		return nil, fmt.Errorf("model: load: checking for trailing data: %w", err)
	}
	return m, nil
}

// readFloats reads n little-endian float32 values, growing its result as
// the data arrives.
func readFloats(r io.Reader, n int) ([]float32, error) {
	const chunk = 1 << 14 // values per read
	v := make([]float32, 0, min(n, chunk))
	buf := make([]byte, 4*min(n, chunk))
	for len(v) < n {
		k := min(n-len(v), chunk)
		b := buf[:4*k]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, truncated(err)
		}
		if cap(v)-len(v) < k {
			v = slices.Grow(v, min(n-len(v), cap(v)))
		}
		for i := 0; i < k; i++ {
			f := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("value %d is %v", len(v), f)
			}
			v = append(v, f)
		}
	}
	return v, nil
}

// truncated turns an end of input into an explicit truncation error.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("artifact truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}

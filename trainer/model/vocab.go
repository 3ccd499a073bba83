package model

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// maxRawID bounds the length of one raw id in an artifact's vocabulary, so
// a corrupt length cannot make Load allocate much.
const maxRawID = 4096

// Provenance is what a model knows of the data it was trained on: the raw
// ids behind its embedding rows, and the digest of the dataset.
type Provenance struct {
	// Vocab maps raw user, item and category ids to embedding rows; its
	// sizes equal the model's schema. Nil for artifacts of format 1.
	Vocab *data.Vocabulary
	// DatasetDigest is "sha256:<hex>" of the training data, or "".
	DatasetDigest string
}

// SetProvenance records the vocabulary and dataset digest of the model's
// training data; Save writes them into the artifact. The vocabulary's
// sizes must equal the schema's.
func (m *Model) SetProvenance(p Provenance) error {
	if m.base != nil {
		return errors.New("model: set provenance: a replica carries its base's")
	}
	if err := m.checkProvenance(p); err != nil {
		return fmt.Errorf("model: set provenance: %w", err)
	}
	m.prov = p
	return nil
}

// checkProvenance checks that p's vocabulary, if any, has the schema's sizes.
func (m *Model) checkProvenance(p Provenance) error {
	if v := p.Vocab; v != nil {
		s := m.schema
		if v.Users.Len() != s.NumUsers || v.Items.Len() != s.NumItems || v.Categories.Len() != s.NumCategories {
			return fmt.Errorf("vocabulary (users %d, items %d, categories %d) does not match the schema (users %d, items %d, categories %d)",
				v.Users.Len(), v.Items.Len(), v.Categories.Len(), s.NumUsers, s.NumItems, s.NumCategories)
		}
	}
	return nil
}

// Provenance returns what SetProvenance or Load recorded.
func (m *Model) Provenance() Provenance {
	if m.base != nil {
		return m.base.prov
	}
	return m.prov
}

// writeVocab writes the users, items and categories of v, each as a count
// then length-prefixed names (unsigned varints).
func writeVocab(w *bufio.Writer, v *data.Vocabulary) {
	var buf [binary.MaxVarintLen64]byte
	for _, names := range []*data.Names{&v.Users, &v.Items, &v.Categories} {
		w.Write(buf[:binary.PutUvarint(buf[:], uint64(names.Len()))])
		for id := range names.Len() {
			name := names.Name(int32(id))
			w.Write(buf[:binary.PutUvarint(buf[:], uint64(len(name)))])
			w.WriteString(name)
		}
	}
}

// readVocab reads what writeVocab wrote, checking the counts against s.
func readVocab(r io.Reader, s data.Schema) (*data.Vocabulary, error) {
	br := byteReader{r: r}
	var lists [3][]string
	for k, want := range []int{s.NumUsers, s.NumItems, s.NumCategories} {
		what := [3]string{"users", "items", "categories"}[k]
		n, err := binary.ReadUvarint(&br)
		if err != nil {
			return nil, fmt.Errorf("vocabulary %s: %w", what, truncated(err))
		}
		if n != uint64(want) {
			return nil, fmt.Errorf("vocabulary lists %d %s, the schema %d", n, what, want)
		}
		names := make([]string, 0, min(want, 1<<16))
		var b []byte
		for range want {
			l, err := binary.ReadUvarint(&br)
			if err != nil {
				return nil, fmt.Errorf("vocabulary %s: %w", what, truncated(err))
			}
			if l == 0 || l > maxRawID {
				return nil, fmt.Errorf("vocabulary %s: id %d has length %d, want 1 to %d", what, len(names), l, maxRawID)
			}
			if cap(b) < int(l) {
				b = make([]byte, l)
			}
			b = b[:l]
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("vocabulary %s: %w", what, truncated(err))
			}
			names = append(names, string(b))
		}
		lists[k] = names
	}
	v, err := data.NewVocabulary(lists[0], lists[1], lists[2])
	if err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	return v, nil
}

// byteReader reads single bytes from r for binary.ReadUvarint.
type byteReader struct {
	r   io.Reader
	one [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.one[:]); err != nil {
		return 0, err
	}
	return b.one[0], nil
}

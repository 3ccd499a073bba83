package data

import (
	"fmt"
	"math"
)

// Names maps raw string ids to dense int32 ids (in order of first addition)
// and back. The zero value is empty and ready to use. It is not safe to add
// names concurrently; a built Dataset never adds, so reads are safe.
type Names struct {
	names []string
	index map[string]int32
}

// Len is the number of names.
func (n *Names) Len() int { return len(n.names) }

// Name returns the raw name of dense id, or "" when id is out of range.
func (n *Names) Name(id int32) string {
	if id < 0 || int(id) >= len(n.names) {
		return ""
	}
	return n.names[id]
}

// ID returns the dense id of a raw name.
func (n *Names) ID(name string) (int32, bool) {
	id, ok := n.index[name]
	return id, ok
}

// All returns a copy of the raw names, indexed by dense id.
func (n *Names) All() []string { return append([]string(nil), n.names...) }

// add returns the dense id of name, adding it when new.
func (n *Names) add(name string) (int32, error) {
	if id, ok := n.index[name]; ok {
		return id, nil
	}
	if len(n.names) >= math.MaxInt32 {
		return 0, fmt.Errorf("more than %d distinct ids", math.MaxInt32)
	}
	if n.index == nil {
		n.index = make(map[string]int32)
	}
	id := int32(len(n.names))
	n.names = append(n.names, name)
	n.index[name] = id
	return id, nil
}

// Vocabulary holds the raw ids behind a Dataset's dense ids. Train and test
// splits of one dataset share one Vocabulary.
type Vocabulary struct {
	Users      Names // raw user ids
	Items      Names // raw item ids
	Categories Names // category (genre) names
}

// NewVocabulary builds a vocabulary whose dense ids are the slice indices.
// Duplicated names are an error.
func NewVocabulary(users, items, categories []string) (*Vocabulary, error) {
	v := &Vocabulary{}
	for _, part := range []struct {
		what  string
		names []string
		dst   *Names
	}{{"user", users, &v.Users}, {"item", items, &v.Items}, {"category", categories, &v.Categories}} {
		for i, name := range part.names {
			id, err := part.dst.add(name)
			if err != nil {
				return nil, fmt.Errorf("%s ids: %w", part.what, err)
			}
			if int(id) != i {
				return nil, fmt.Errorf("%s %q is listed twice (at %d and %d)", part.what, name, id, i)
			}
		}
	}
	return v, nil
}

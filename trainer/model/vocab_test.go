package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// testVocab names every row of schema s.
func testVocab(t *testing.T, s data.Schema) *data.Vocabulary {
	t.Helper()
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%d", prefix, i)
		}
		return out
	}
	v, err := data.NewVocabulary(names("user", s.NumUsers), names("item", s.NumItems), names("cat", s.NumCategories))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestArtifactVocabulary(t *testing.T) {
	train, test := userData(3)
	m := pretrained(t, fineConfigs()[1], train)
	v := testVocab(t, m.Schema())
	const digest = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	if err := m.SetProvenance(Provenance{Vocab: v, DatasetDigest: digest}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	p := got.Provenance()
	if p.DatasetDigest != digest {
		t.Errorf("dataset digest %q, want %q", p.DatasetDigest, digest)
	}
	if p.Vocab == nil {
		t.Fatal("loaded model has no vocabulary")
	}
	for _, pair := range [][2]*data.Names{{&p.Vocab.Users, &v.Users}, {&p.Vocab.Items, &v.Items}, {&p.Vocab.Categories, &v.Categories}} {
		if a, b := strings.Join(pair[0].All(), ","), strings.Join(pair[1].All(), ","); a != b {
			t.Errorf("vocabulary %s, want %s", a, b)
		}
	}
	if !equalFloats(predict(t, got, test[0]), predict(t, m, test[0])) {
		t.Error("the model with a vocabulary predicts differently after a round trip")
	}
	// A replica carries its base's provenance.
	rep, err := got.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Provenance().Vocab != p.Vocab {
		t.Error("replica does not share its base's vocabulary")
	}
	// A vocabulary of the wrong size is refused.
	small, _ := data.NewVocabulary([]string{"u"}, []string{"i"}, []string{"c"})
	if err := m.SetProvenance(Provenance{Vocab: small}); err == nil || !strings.Contains(err.Error(), "does not match the schema") {
		t.Errorf("wrong-size vocabulary: %v", err)
	}
}

func TestArtifactFormat1StillLoads(t *testing.T) {
	train, test := userData(2)
	m := pretrained(t, fineConfigs()[0], train)
	var buf bytes.Buffer
	if _, err := m.Save(&buf); err != nil { // no provenance: the bytes of format 1 but the version
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint32(b[8:], 1)
	got, err := Load(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("format 1 artifact: %v", err)
	}
	if got.Provenance().Vocab != nil {
		t.Error("format 1 artifact has a vocabulary")
	}
	if !equalFloats(predict(t, got, test[0]), predict(t, m, test[0])) {
		t.Error("format 1 artifact predicts differently")
	}
}

func TestArtifactVocabularyCorrupt(t *testing.T) {
	train, _ := userData(2)
	m := pretrained(t, fineConfigs()[0], train)
	if err := m.SetProvenance(Provenance{Vocab: testVocab(t, m.Schema())}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	hl := binary.LittleEndian.Uint32(full[12:])
	vocabAt := 16 + int(hl)
	cases := map[string][]byte{
		"truncated in the vocabulary": full[:vocabAt+3],
		"user count off by one":       setByte(full, vocabAt, byte(m.Schema().NumUsers+1)),
		"zero-length id":              setByte(full, vocabAt+1, 0),
	}
	for name, b := range cases {
		if _, err := Load(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "vocabulary") {
			t.Errorf("%s: error %v, want one about the vocabulary", name, err)
		}
	}
}

func setByte(b []byte, at int, v byte) []byte {
	out := bytes.Clone(b)
	out[at] = v
	return out
}

package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func TestArtifactRoundTrip(t *testing.T) {
	train, test := userData(3)
	for _, cfg := range fineConfigs() {
		m := pretrained(t, cfg, train)
		var buf bytes.Buffer
		digest, err := m.Save(&buf)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(buf.Bytes())
		if digest != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: digest %s is not the sha256 of the bytes written", cfg.Arch, digest)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte("LCFTMDL\x00\x02\x00\x00\x00")) {
			t.Errorf("%s: artifact starts %q", cfg.Arch, buf.Bytes()[:12])
		}
		got, err := Load(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for u := range test {
			if !equalFloats(predict(t, got, test[u]), predict(t, m, test[u])) {
				t.Errorf("%s: loaded model predicts differently", cfg.Arch)
			}
		}
		if d2, _ := got.Save(io.Discard); d2 != digest {
			t.Errorf("%s: re-saved digest differs", cfg.Arch)
		}
		c := got.Config()
		if c.Arch != cfg.Arch || c.Seed != cfg.Seed || c.EmbeddingDim != cfg.EmbeddingDim || got.Schema() != fineSchema {
			t.Errorf("%s: loaded config %+v schema %+v", cfg.Arch, c, got.Schema())
		}
		// The loaded model trains like the original.
		opt1, opt2 := mustSGD(t, 0.1), mustSGD(t, 0.1)
		l1 := step(t, m, train[0], labelsOf(train[0]), opt1)
		l2 := step(t, got, train[0], labelsOf(train[0]), opt2)
		if l1 != l2 || !equalFloats(predict(t, m, test[0]), predict(t, got, test[0])) {
			t.Errorf("%s: loaded model trains differently", cfg.Arch)
		}
	}
}

// withHeader rebuilds an artifact with a different JSON header.
func withHeader(a []byte, edit func(string) string) []byte {
	n := binary.LittleEndian.Uint32(a[12:16])
	h := edit(string(a[16 : 16+n]))
	out := append([]byte(nil), a[:12]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(h)))
	out = append(out, h...)
	return append(out, a[16+n:]...)
}

func TestArtifactErrors(t *testing.T) {
	m := mustNew(t, tinyConfigs()[1], tinySchema)
	good := saveBytes(t, m)
	n := int(binary.LittleEndian.Uint32(good[12:16]))
	set := func(off int, b ...byte) []byte {
		c := append([]byte(nil), good...)
		copy(c[off:], b)
		return c
	}
	nan := make([]byte, 4)
	binary.LittleEndian.PutUint32(nan, math.Float32bits(float32(math.NaN())))
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "artifact truncated"},
		{"magic", set(0, 'X'), "not a model artifact"},
		{"version", set(8, 3), "unsupported format version 3 (this build reads 1 and 2)"},
		{"huge header", set(12, 0xff, 0xff, 0xff, 0x7f), "header length"},
		{"bad json", set(16, '['), "decoding header"},
		{"unknown arch", withHeader(good, func(h string) string { return strings.Replace(h, `"WideDeep"`, `"DIN2"`, 1) }), `unknown architecture "DIN2"`},
		{"unknown field", withHeader(good, func(h string) string { return strings.Replace(h, `{"config"`, `{"x":1,"config"`, 1) }), "unknown field"},
		{"schema vs shapes", withHeader(good, func(h string) string { return strings.Replace(h, `"numUsers":4`, `"numUsers":5`, 1) }), `shape mismatch: parameter 0 is table "linear.user" [4 1] in the header, WideDeep expects table "linear.user" [5 1]`},
		{"missing param", withHeader(good, func(h string) string {
			return strings.Replace(h, `,{"name":"mlp.2.weight","kind":"dense","shape":[4,1]}`, ``, 1)
		}), "header lists 13 parameters, WideDeep has 14"},
		{"nan", set(16+n+8, nan...), `tensor "linear.user": value 2 is NaN`},
		{"trailing", append(append([]byte(nil), good...), 0), "trailing data"},
	} {
		_, err := Load(bytes.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	// Every truncation fails, with ErrUnexpectedEOF.
	for i := range len(good) {
		_, err := Load(bytes.NewReader(good[:i]))
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated at %d of %d: %v", i, len(good), err)
		}
	}
	// A header claiming a huge model fails on the short input without
	// allocating the claimed size (8 GB here).
	lr := saveBytes(t, mustNew(t, tinyConfigs()[0], tinySchema))
	huge := withHeader(lr, func(h string) string {
		h = strings.Replace(h, `"numUsers":4`, `"numUsers":2000000000`, 1)
		return strings.Replace(h, `"shape":[4,1]`, `"shape":[2000000000,1]`, 1)
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Load(bytes.NewReader(huge))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), `tensor "linear.user": artifact truncated`) {
		t.Errorf("huge header: %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Errorf("loading a short artifact with a huge header allocated %d bytes", d)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestSaveWriteError(t *testing.T) {
	m := mustNew(t, tinyConfigs()[1], tinySchema)
	if _, err := m.Save(&failWriter{n: 10}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, cfg := range tinyConfigs() {
		m := mustNew(f, cfg, tinySchema)
		randomise(m, rand.New(rand.NewPCG(1, 1)), 0.1)
		a := saveBytes(f, m)
		f.Add(a)
		f.Add(a[:len(a)/2])
		f.Add(a[:20])
	}
	batch := randomSamples(rand.New(rand.NewPCG(2, 2)), tinySchema, 4)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Load(bytes.NewReader(in))
		if err != nil {
			return
		}
		// Whatever loads is a usable model that saves back to a loadable
		// artifact with the same predictions.
		s := m.Schema()
		if s.NumUsers >= tinySchema.NumUsers && s.NumItems >= tinySchema.NumItems && s.NumCategories >= tinySchema.NumCategories {
			z := make([]float32, len(batch))
			if err := m.Predict(batch, z); err != nil {
				t.Fatal(err)
			}
			m2, err := Load(bytes.NewReader(saveBytes(t, m)))
			if err != nil {
				t.Fatal(err)
			}
			if !equalFloats(z, predict(t, m2, batch)) {
				t.Fatal("re-saved model predicts differently")
			}
		}
	})
}

// TestLoadHugeHistoryLen: the history cap in a header sizes no buffer
// beyond a bound (DIN presizes its attention buffers from it).
func TestLoadHugeHistoryLen(t *testing.T) {
	m := mustNew(t, tinyConfigs()[4], tinySchema)
	a := withHeader(saveBytes(t, m), func(h string) string {
		return strings.Replace(h, `"historyLen":4`, `"historyLen":2000000000`, 1)
	})
	got, err := Load(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	batch, _ := gradBatch()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	z := predict(t, got, batch)
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("Predict allocated %d bytes", d)
	}
	for _, v := range z {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logits %v", z)
		}
	}
}

package runspec

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The seed corpora are f.Add calls below and the files in
// testdata/fuzz/<Target>/ (real specs and summaries, and inputs that once
// needed care: trailing data, overflowing numbers, oversized messages).
// `make fuzz` runs each target for a fixed time.

// FuzzDecodeSummary: any termination message gives a summary or an error,
// never a panic; a summary it accepts is valid, encodes, and decodes again
// to the same summary.
func FuzzDecodeSummary(f *testing.F) {
	for _, s := range validSummaries() {
		b, err := s.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`{"kind":"finetune","finetune":{"cloud":{"s":2,"w":1}}}`)
	f.Add(`{"kind":"search","search":{"groups":[{"min":0.6,"max":0.3}]}}`)
	f.Add("null")
	f.Fuzz(func(t *testing.T, msg string) {
		s, err := DecodeSummary(msg)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("DecodeSummary accepted an invalid summary: %v", err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("an accepted summary does not encode: %v", err)
		}
		if len(b) > MaxSummaryBytes {
			return // re-encoding may grow it (escaped characters)
		}
		back, err := DecodeSummary(string(b))
		if err != nil {
			t.Fatalf("the re-encoded summary %s is refused: %v", b, err)
		}
		// An empty list and an absent one mean the same (omitempty).
		if diff := cmp.Diff(s, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decoding changed the summary (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecode: any run spec file gives a spec or an error, never a panic;
// a spec it accepts is valid and survives a round trip through JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range validSpecs() {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"kind":"verify"} {}`))
	f.Add([]byte(`{"version":1,"kind":"finetune","optimization":{"learningRate":1e999}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid spec: %v", err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("an accepted spec does not encode: %v", err)
		}
		back, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the re-encoded spec %s is refused: %v", b, err)
		}
		if diff := cmp.Diff(s, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decoding changed the spec (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodeShardReport: any report file gives a report or an error, never
// a panic; a report it accepts gives a valid summary.
func FuzzDecodeShardReport(f *testing.F) {
	for _, s := range validSummaries() {
		if s.Kind != KindFinetune || s.Finetune == nil {
			continue
		}
		b, err := json.Marshal(ShardReport{Shard: s.Shard, Arch: s.Arch, Summary: *s.Finetune})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"shard":-1,"summary":{}}`))
	f.Add([]byte(`{"shard":0,"summary":{"cloud":{"s":2,"w":1}}}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeShardReport(b)
		if err != nil {
			return
		}
		if err := r.AsSummary("file:///r", "sha256:0").Validate(); err != nil {
			t.Fatalf("DecodeShardReport accepted a report whose summary is invalid: %v", err)
		}
	})
}

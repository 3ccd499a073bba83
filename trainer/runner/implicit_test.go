package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func TestDefaultSplit(t *testing.T) {
	amazonTime := runspec.Split{Method: SplitTimestamp, Timestamp: data.AmazonSplitTime}
	for _, tc := range []struct {
		name string
		d    runspec.Dataset
		want runspec.Split
	}{
		{"Amazon, no split", runspec.Dataset{Format: FormatAmazon}, amazonTime},
		{"Amazon, time split without a time", runspec.Dataset{Format: FormatAmazon, Split: runspec.Split{Method: SplitTimestamp}}, amazonTime},
		{"Amazon, own time", runspec.Dataset{Format: FormatAmazon, Split: runspec.Split{Method: SplitTimestamp, Timestamp: 5}}, runspec.Split{Method: SplitTimestamp, Timestamp: 5}},
		{"Amazon, per user", runspec.Dataset{Format: FormatAmazon, Split: runspec.Split{Method: SplitPerUserFraction}}, runspec.Split{Method: SplitPerUserFraction}},
		{"Implicit, no split", runspec.Dataset{Format: FormatImplicit}, runspec.Split{}},
		{"MovieLens, no split", runspec.Dataset{Format: FormatMovieLens}, runspec.Split{}},
	} {
		if diff := cmp.Diff(tc.want, DefaultSplit(tc.d)); diff != "" {
			t.Errorf("%s: split (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestLoadImplicit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.csv")
	log := "user,item,timestamp,categories\nu1,a,10,X\nu1,b,20,Y\nu2,c,15,X\nu2,a,30,X\n"
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	d := runspec.Dataset{Format: FormatImplicit, URI: path, Negatives: &runspec.Negatives{PerPositive: 1, Seed: 3}}
	ds, digest, err := LoadDataset(context.Background(), d, data.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	var pos, neg int
	for _, x := range ds.Samples {
		if x.Label == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos != 4 || neg != 4 || len(digest) != len(DigestPrefix)+64 {
		t.Errorf("%d positives, %d negatives, digest %q; want 4, 4 and a sha256", pos, neg, digest)
	}
	d.URI = ""
	if _, _, err := LoadDataset(context.Background(), d, data.Selection{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("no uri: error %v, want bad input", err)
	}
}

package runner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// canonicalCSV is a synthetic dataset as canonical samples CSV lines (the
// header first), with rows in dataset order.
func canonicalCSV(t *testing.T, users int, seed uint64) []string {
	t.Helper()
	cfg := data.DefaultSynthConfig()
	cfg.NumUsers, cfg.NumItems, cfg.SamplesPerUser, cfg.Drift, cfg.Seed = users, 150, 30, 0.8, seed
	ds, err := data.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := data.WriteCanonicalCSV(&buf, ds); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(buf.String()), "\n")
}

func writeLines(t *testing.T, path string, lines []string) runspec.Dataset {
	t.Helper()
	if err := storage.WriteAll(context.Background(), path, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	return runspec.Dataset{Format: FormatSamples, URI: path, HistoryLength: 10, Split: runspec.Split{Method: SplitPerUserFraction, TrainFraction: 0.8}}
}

func shuffled(lines []string, seed uint64) []string {
	out := append([]string{lines[0]}, lines[1:]...)
	rows := out[1:]
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return out
}

// The same rows in another file order give the same model (the same
// Cloud AUC and predictions; the artifacts differ only in the dataset
// digest, a digest of the file's bytes) and the same fine-tuning results: dense ids follow the sorted raw ids and
// samples sort by (user, time, item, label), not by file position.
func TestFileOrderDoesNotMatter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lines := canonicalCSV(t, 80, 5)
	var clouds []float64
	var datasets []string
	var stats []runspec.FinetuneStats
	for i, ls := range [][]string{lines, shuffled(lines, 1), shuffled(lines, 2)} {
		ds := writeLines(t, filepath.Join(dir, fmt.Sprintf("order-%d.csv", i)), ls)
		p := mustPretrain(t, pretrainSpec(ds, "WideDeep", filepath.Join(dir, fmt.Sprintf("model-%d", i)), 4))
		sum, err := Run(ctx, finetuneSpec(ds, p, "Auto", ModePerUser, filepath.Join(dir, fmt.Sprintf("ft-%d", i)), 0.1, 1, 4), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		clouds = append(clouds, p.CloudAUC)
		datasets = append(datasets, p.DatasetDigest)
		stats = append(stats, stripSeconds(*sum.Finetune))
	}
	for i := 1; i < len(clouds); i++ {
		if clouds[i] != clouds[0] {
			t.Errorf("order %d: Cloud AUC %v, in file order %v", i, clouds[i], clouds[0])
		}
		if stats[i] != stats[0] {
			t.Errorf("order %d: fine-tuning %+v, in file order %+v", i, stats[i], stats[0])
		}
		if datasets[i] == datasets[0] {
			t.Errorf("order %d: the dataset digest (of the file's bytes) did not change", i)
		}
	}
	if !strings.HasPrefix(datasets[0], DigestPrefix) || len(datasets[0]) != len(DigestPrefix)+64 {
		t.Errorf("dataset digest %q is not sha256:<hex>", datasets[0])
	}
}

// Rows of users and items the model never saw are dropped and counted; the
// known users are fine-tuned as before; the summary names the dataset.
func TestOutOfVocabulary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lines := canonicalCSV(t, 60, 6)
	known := writeLines(t, filepath.Join(dir, "known.csv"), lines)
	p := mustPretrain(t, pretrainSpec(known, "WideDeep", filepath.Join(dir, "model"), 6))
	base, err := Run(ctx, finetuneSpec(known, p, "Auto", ModePerUser, filepath.Join(dir, "ft-known"), 0.1, 1, 6), 0, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Three new users (4 rows each), two new items seen by known users
	// (5 rows in all), and a new category on a known item's row is not
	// allowed (an item keeps one category set), so new categories come
	// with the new items.
	extra := lines
	for u := range 3 {
		for k := range 4 {
			extra = append(extra, fmt.Sprintf("new-user-%d,i%d,c1,%d,%d", u, k, k%2, 1700000000+k))
		}
	}
	firstUser := strings.Split(lines[1], ",")[0]
	for k := range 5 {
		extra = append(extra, fmt.Sprintf("%s,new-item-%d,c1|new-cat,%d,%d", firstUser, k%2, k%2, 1800000000+k))
	}
	more := writeLines(t, filepath.Join(dir, "more.csv"), extra)
	sum, err := Run(ctx, finetuneSpec(more, p, "Auto", ModePerUser, filepath.Join(dir, "ft-more"), 0.1, 1, 6), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := sum.Finetune
	if f.OOVSamples != 12+5 || f.OOVUsers != 3 || f.OOVItems != 2 {
		t.Errorf("out of vocabulary: samples %d users %d items %d, want 17, 3, 2", f.OOVSamples, f.OOVUsers, f.OOVItems)
	}
	if f.Users != base.Finetune.Users {
		t.Errorf("%d users fine-tuned, %d without the unknown rows", f.Users, base.Finetune.Users)
	}
	if sum.DatasetDigest == "" || sum.DatasetDigest == base.DatasetDigest || base.DatasetDigest != p.DatasetDigest {
		t.Errorf("dataset digests: pretrain %s, same data %s, more data %s", p.DatasetDigest, base.DatasetDigest, sum.DatasetDigest)
	}
	rep := readReport(t, sum.ReportURI)
	if rep.OOV.Categories != 1 || rep.OOV.Samples != 17 {
		t.Errorf("report's out-of-vocabulary counts %+v, want 1 category and 17 samples", rep.OOV)
	}
}

// A pretraining run writes its dataset partitioned by user; fine-tuning
// shards that read the partitions read only theirs and give the same
// totals as one shard reading the source.
func TestPartitionedShards(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ds := writeLines(t, filepath.Join(dir, "data.csv"), canonicalCSV(t, 200, 7))
	spec := pretrainSpec(ds, "LR", filepath.Join(dir, "model"), 7)
	spec.WritePartitions = true
	p := mustPretrain(t, spec)
	if p.PartitionsURI == "" {
		t.Fatal("no partitions written")
	}
	man, err := readManifest(ctx, &runspec.Partitions{ManifestURI: p.PartitionsURI})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range man.Files {
		b, err := storage.ReadAll(ctx, filepath.Join(dir, "model", PartitionsDir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
	}
	if man.DatasetDigest != p.DatasetDigest {
		t.Errorf("manifest digest %s, pretraining's %s", man.DatasetDigest, p.DatasetDigest)
	}

	one, err := Run(ctx, finetuneSpec(ds, p, "Auto", ModePerUser, filepath.Join(dir, "one"), 0.1, 1, 7), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	parted := ds
	parted.URI = "" // the shards must not touch the source
	parted.Partitions = &runspec.Partitions{ManifestURI: p.PartitionsURI, DatasetDigest: p.DatasetDigest}
	const n = 4
	var sum runspec.FinetuneStats
	var logs bytes.Buffer
	for shard := range n {
		s, err := Run(ctx, finetuneSpec(parted, p, "Auto", ModePerUser, filepath.Join(dir, "four"), 0.1, n, 7), shard, &logs)
		if err != nil {
			t.Fatal(err)
		}
		if s.DatasetDigest != p.DatasetDigest {
			t.Errorf("shard %d: dataset digest %s, want the source's %s", shard, s.DatasetDigest, p.DatasetDigest)
		}
		if s.Finetune.BytesRead <= 0 || s.Finetune.BytesRead > total/2 {
			t.Errorf("shard %d read %d of %d partition bytes, want about a quarter", shard, s.Finetune.BytesRead, total)
		}
		sum.Add(s.Finetune)
	}
	a, b := stripSeconds(*one.Finetune), stripSeconds(sum)
	if a.Users != b.Users || a.Samples != b.Samples || a.Improved != b.Improved || a.Degraded != b.Degraded {
		t.Errorf("one shard on the source %+v, %d shards on partitions %+v", a, n, b)
	}
	for _, pair := range [][2]float64{{a.Cloud.Sum, b.Cloud.Sum}, {a.Local.Sum, b.Local.Sum}, {a.LCFT.Sum, b.LCFT.Sum}} {
		if d := pair[0] - pair[1]; d > 1e-9 || d < -1e-9 {
			t.Errorf("AUC sums differ: %v vs %v", pair[0], pair[1])
		}
	}
	// A manifest of another dataset is refused as bad input.
	wrong := parted
	wrong.Partitions = &runspec.Partitions{ManifestURI: p.PartitionsURI, DatasetDigest: "sha256:" + strings.Repeat("0", 64)}
	_, err = Run(ctx, finetuneSpec(wrong, p, "Auto", ModePerUser, filepath.Join(dir, "wrong"), 0.1, n, 7), 0, nil)
	if ExitCode(err) != runspec.ExitBadInput || !strings.Contains(fmt.Sprint(err), "the spec expects") {
		t.Errorf("wrong dataset digest: %v (exit %d)", err, ExitCode(err))
	}
}

package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// A partitioned dataset is a dataset written once, by the pretraining run
// that reads it whole anyway, as NumPartitions files of canonical samples
// in Parquet keyed by user (PartitionOf), with a manifest. A fine-tuning
// shard then reads only the files of its users: shard i of n reads the
// partitions p with p mod n == i, about 1/n of the bytes, and keeps about
// 1/n of the samples in memory.
const (
	// PartitionsDir is the directory of the partitions inside a
	// pretraining run's OutputURI.
	PartitionsDir = "partitions"
	// ManifestFile lists the partitions.
	ManifestFile = "manifest.json"
	// partitionFormat is the manifest's format: canonical samples in Parquet.
	partitionFormat = "canonical-parquet"
)

// PartitionManifest describes a partitioned dataset.
type PartitionManifest struct {
	Version       int    `json:"version"`
	Format        string `json:"format"`
	NumPartitions int    `json:"numPartitions"`
	// DatasetDigest is the digest of the source dataset (LoadDataset's),
	// which the partitions stand for.
	DatasetDigest string `json:"datasetDigest"`
	// Source is the dataset as the pretraining spec named it.
	Source runspec.Dataset `json:"source"`
	Rows   int64           `json:"rows"`
	// Files are the non-empty partitions, by partition number.
	Files []PartitionFile `json:"files"`
}

// PartitionFile is one partition of a partitioned dataset.
type PartitionFile struct {
	Partition int    `json:"partition"`
	Name      string `json:"name"` // relative to the manifest's directory
	Users     int    `json:"users"`
	Rows      int    `json:"rows"`
	SHA256    string `json:"sha256"` // hex, of the file's bytes
}

// writePartitions writes the samples of train and test (one dataset split
// in two; every user's rows go to one partition) as a partitioned dataset
// under dir and returns the manifest's URI.
func writePartitions(ctx context.Context, dir string, src runspec.Dataset, digest string, train, test *data.Dataset, lg *logger) (string, error) {
	nUsers := train.Schema.NumUsers
	trainAt, testAt := userIndex(train, nUsers), userIndex(test, nUsers)
	byPart := make([][]int32, NumPartitions)
	for u := range nUsers {
		if trainAt[u].Len()+testAt[u].Len() == 0 {
			continue
		}
		p := PartitionOf(train.Vocab.Users.Name(int32(u)))
		byPart[p] = append(byPart[p], int32(u))
	}
	man := &PartitionManifest{Version: 1, Format: partitionFormat, NumPartitions: NumPartitions, DatasetDigest: digest, Source: src}
	var rows []data.Sample // reused across partitions
	for p, users := range byPart {
		if len(users) == 0 {
			continue
		}
		rows = rows[:0]
		for _, u := range users {
			rows = append(rows, train.Samples[trainAt[u].Start:trainAt[u].End]...)
			rows = append(rows, test.Samples[testAt[u].Start:testAt[u].End]...)
		}
		part := &data.Dataset{Schema: train.Schema, Samples: rows, Vocab: train.Vocab, ItemCategories: train.ItemCategories}
		name := fmt.Sprintf("part-%04d.parquet", p)
		h := sha256.New()
		err := storage.Write(ctx, storage.Join(dir, name), func(w io.Writer) error {
			return data.WriteCanonicalParquet(io.MultiWriter(w, h), part)
		})
		if err != nil {
			return "", storageError(err, "writing partition %d", p)
		}
		man.Files = append(man.Files, PartitionFile{Partition: p, Name: name, Users: len(users), Rows: len(rows), SHA256: hex.EncodeToString(h.Sum(nil))})
		man.Rows += int64(len(rows))
	}
	uri := storage.Join(dir, ManifestFile)
	if _, err := writeJSON(ctx, uri, man); err != nil {
		return "", err
	}
	lg.printf("wrote %d partitions (%d rows) and %s", len(man.Files), man.Rows, uri)
	return uri, nil
}

// userIndex maps each dense user id to its range in ds.Samples (empty for
// users without samples).
func userIndex(ds *data.Dataset, nUsers int) []data.Range {
	at := make([]data.Range, nUsers)
	for _, r := range data.UserRanges(ds) {
		at[r.User] = r
	}
	return at
}

// readManifest reads and checks the manifest of a partitioned dataset.
func readManifest(ctx context.Context, p *runspec.Partitions) (*PartitionManifest, error) {
	b, err := storage.ReadAll(ctx, p.ManifestURI)
	if err != nil {
		return nil, storageError(err, "reading the partition manifest")
	}
	var man PartitionManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, badInput("partition manifest %s: %w", p.ManifestURI, err)
	}
	switch {
	case man.Version != 1 || man.Format != partitionFormat:
		return nil, badInput("partition manifest %s: version %d format %q, this trainer reads version 1 %q", p.ManifestURI, man.Version, man.Format, partitionFormat)
	case man.NumPartitions != NumPartitions:
		return nil, badInput("partition manifest %s has %d partitions, this trainer assigns users to %d", p.ManifestURI, man.NumPartitions, NumPartitions)
	case p.DatasetDigest != "" && !strings.EqualFold(p.DatasetDigest, man.DatasetDigest):
		return nil, badInput("partition manifest %s is of dataset %s, the spec expects %s", p.ManifestURI, man.DatasetDigest, p.DatasetDigest)
	}
	return &man, nil
}

// loadPartitions reads the partitions of shard (of shards; all partitions
// when shards is 0) with sel, checking every file against the manifest's
// digest, and returns the dataset with the source's digest and the bytes
// read.
func loadPartitions(ctx context.Context, d runspec.Dataset, shard, shards int, sel data.Selection) (*data.Dataset, string, int64, error) {
	man, err := readManifest(ctx, d.Partitions)
	if err != nil {
		return nil, "", 0, err
	}
	var ins []data.Input
	var read int64
	for _, f := range man.Files {
		if shards > 0 && f.Partition%shards != shard {
			continue
		}
		uri := sibling(d.Partitions.ManifestURI, f.Name)
		b, err := storage.ReadAll(ctx, uri)
		if err != nil {
			return nil, "", 0, storageError(err, "reading partition %d", f.Partition)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
			return nil, "", 0, badInput("partition %s has sha256 %x, its manifest says %s", uri, sum, f.SHA256)
		}
		read += int64(len(b))
		ins = append(ins, data.Input{Name: uri, Reader: bytes.NewReader(b)})
	}
	if len(ins) == 0 {
		return emptyDataset(sel.Vocab, d.HistoryLength), man.DatasetDigest, 0, nil
	}
	ds, err := data.ReadCanonicalFiles(ins, data.CanonicalOptions{HistoryLen: d.HistoryLength, Selection: sel})
	if err != nil {
		return nil, "", 0, badInput("loading partitions of %s: %w", d.Partitions.ManifestURI, err)
	}
	return ds, man.DatasetDigest, read, nil
}

// sibling is the URI of name in the directory of the object uri (query
// kept): sibling("s3://b/p/manifest.json?x=1", "part-0001.parquet") is
// "s3://b/p/part-0001.parquet?x=1".
func sibling(uri, name string) string {
	head, query, hasQuery := strings.Cut(uri, "?")
	out := head[:strings.LastIndex(head, "/")+1] + name
	if hasQuery {
		out += "?" + query
	}
	return out
}

// emptyDataset is a dataset without samples over vocabulary v (a shard
// without users).
func emptyDataset(v *data.Vocabulary, historyLen int) *data.Dataset {
	if v == nil {
		v = &data.Vocabulary{}
	}
	if historyLen == 0 {
		historyLen = data.DefaultHistoryLen
	}
	return &data.Dataset{
		Schema:         data.Schema{NumUsers: v.Users.Len(), NumItems: v.Items.Len(), NumCategories: v.Categories.Len(), HistoryLen: historyLen},
		Vocab:          v,
		ItemCategories: make([][]int32, v.Items.Len()),
	}
}

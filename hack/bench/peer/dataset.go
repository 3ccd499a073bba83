package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lcft-dev/lcft-operator/trainer/data"
)

// The dataset file both sides read (hack/bench/torch_peer.py parses it with
// numpy), all little-endian:
//
//	magic     8 bytes "LCFTPEER"
//	version   uint32  1
//	schema    uint32 × 4: users, items, categories, history length
//	counts    uint32 × 5: samples n, users u, categories, positive and
//	          negative history ids (flat lengths)
//	user      int32 × n
//	item      int32 × n
//	label     float32 × n
//	catOff    int32 × (n+1), then the category ids (sample i has
//	          cats[catOff[i]:catOff[i+1]]; EmbeddingBag offsets)
//	posOff, pos; negOff, neg: the same for the two histories
//	userOff   int32 × (u+1): user k's samples are [userOff[k], userOff[k+1])
const (
	dataMagic   = "LCFTPEER"
	dataVersion = 1
)

// peerData is the benchmark's dataset: samples grouped by user.
type peerData struct {
	schema  data.Schema
	samples []data.Sample
	labels  []float32
	userOff []int32
}

func writeData(path string, ds *data.Dataset) (*peerData, error) {
	ranges := data.UserRanges(ds)
	userOff := []int32{0}
	for _, r := range ranges {
		if r.Start != int(userOff[len(userOff)-1]) {
			return nil, errors.New("dataset samples are not grouped by user")
		}
		userOff = append(userOff, int32(r.End))
	}
	n := len(ds.Samples)
	var user, item, cats, pos, neg []int32
	catOff, posOff, negOff := []int32{0}, []int32{0}, []int32{0}
	labels := make([]float32, n)
	for i := range ds.Samples {
		s := &ds.Samples[i]
		user, item = append(user, s.User), append(item, s.Item)
		labels[i] = s.Label
		cats = append(cats, s.Categories()...)
		pos = append(pos, s.PosHistory()...)
		neg = append(neg, s.NegHistory()...)
		catOff, posOff, negOff = append(catOff, int32(len(cats))), append(posOff, int32(len(pos))), append(negOff, int32(len(neg)))
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the dataset file: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString(dataMagic)
	sc := ds.Schema
	for _, v := range []int{dataVersion, sc.NumUsers, sc.NumItems, sc.NumCategories, sc.HistoryLen,
		n, len(ranges), len(cats), len(pos), len(neg)} {
		binary.Write(w, binary.LittleEndian, uint32(v))
	}
	for _, a := range []any{user, item, labels, catOff, cats, posOff, pos, negOff, neg, userOff} {
		if err := binary.Write(w, binary.LittleEndian, a); err != nil {
			return nil, fmt.Errorf("writing the dataset file: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("writing the dataset file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the dataset file: %w", err)
	}
	return &peerData{schema: sc, samples: ds.Samples, labels: labels, userOff: userOff}, nil
}

// readData reads a dataset file into standalone samples.
func readData(path string) (*peerData, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the dataset: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic := make([]byte, len(dataMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != dataMagic {
		return nil, fmt.Errorf("%s is not a peer dataset (magic %q): %v", path, magic, err)
	}
	var hdr [10]uint32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("reading the dataset header: %w", err)
	}
	if hdr[0] != dataVersion {
		return nil, fmt.Errorf("dataset version %d, want %d", hdr[0], dataVersion)
	}
	n, nu := int(hdr[5]), int(hdr[6])
	user, item := make([]int32, n), make([]int32, n)
	labels := make([]float32, n)
	catOff, cats := make([]int32, n+1), make([]int32, hdr[7])
	posOff, pos := make([]int32, n+1), make([]int32, hdr[8])
	negOff, neg := make([]int32, n+1), make([]int32, hdr[9])
	userOff := make([]int32, nu+1)
	for _, a := range []any{user, item, labels, catOff, cats, posOff, pos, negOff, neg, userOff} {
		if err := binary.Read(r, binary.LittleEndian, a); err != nil {
			return nil, fmt.Errorf("reading the dataset: %w", err)
		}
	}
	for _, o := range []struct {
		off []int32
		n   int
	}{{catOff, len(cats)}, {posOff, len(pos)}, {negOff, len(neg)}, {userOff, n}} {
		if err := checkOffsets(o.off, o.n); err != nil {
			return nil, fmt.Errorf("dataset %s: %w", path, err)
		}
	}
	d := &peerData{
		schema:  data.Schema{NumUsers: int(hdr[1]), NumItems: int(hdr[2]), NumCategories: int(hdr[3]), HistoryLen: int(hdr[4])},
		samples: make([]data.Sample, n),
		labels:  labels,
		userOff: userOff,
	}
	for i := range n {
		d.samples[i] = data.NewSample(user[i], item[i], cats[catOff[i]:catOff[i+1]],
			pos[posOff[i]:posOff[i+1]], neg[negOff[i]:negOff[i+1]], labels[i], int64(i))
	}
	return d, nil
}

// checkOffsets checks that off starts at 0, never decreases and ends at n.
func checkOffsets(off []int32, n int) error {
	if off[0] != 0 || int(off[len(off)-1]) != n {
		return fmt.Errorf("offsets run from %d to %d, want 0 to %d", off[0], off[len(off)-1], n)
	}
	for i := 1; i < len(off); i++ {
		if off[i] < off[i-1] {
			return fmt.Errorf("offset %d decreases", i)
		}
	}
	return nil
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/model"
)

// manifest is what both sides read: the files and the loops' settings.
type manifest struct {
	Data   string            `json:"data"`   // dataset file (see dataset.go)
	Models map[string]string `json:"models"` // architecture -> initial weights (model artifact)
	// Widths of the Wide&Deep MLP, input first (for the FLOPs per sample).
	Widths       []int   `json:"widths"`
	LearningRate float64 `json:"learningRate"` // SGD, no decay, no momentum
	BatchSize    int     `json:"batchSize"`    // per-user fine-tuning
	WarmupUsers  int     `json:"warmupUsers"`  // fine-tuned once before timing
	Steps        []steps `json:"steps"`        // training-step benchmarks (Wide&Deep)
	// CheckIndices are the samples of the gradient cross-check's batch.
	CheckIndices []int `json:"checkIndices"`
}

// steps is a training-step benchmark: Steps steps of Batch samples, batch k
// being samples [(k mod F)*Batch, +Batch) with F the whole batches in the
// data, after Warmup untimed steps.
type steps struct {
	Batch  int `json:"batch"`
	Steps  int `json:"steps"`
	Warmup int `json:"warmup"`
}

// The shapes of the issue: Wide&Deep with 8-wide embeddings and an MLP of
// 200 and 80 hidden units, and LR.
var (
	embeddingDim = 8
	hiddenUnits  = []int{200, 80}
	archs        = []string{model.ArchWideDeep, model.ArchLR}
)

const manifestFile = "manifest.json"

// export writes a deterministic synthetic dataset (MovieLens-small sized
// catalogue, a long tail of samples per user), the initial weights of each
// model and the manifest into dir.
func export(dir string, users int, stdout io.Writer) error {
	if users < 50 {
		return fmt.Errorf("export: -users %d: need at least 50", users)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	cfg := data.DefaultSynthConfig()
	cfg.Seed = 12
	cfg.NumUsers, cfg.NumItems, cfg.NumCategories = users, 10000, 20
	cfg.SamplesPerUser, cfg.MinSamplesPerUser = 64, 8
	cfg.HistoryLen = 20
	ds, err := data.Generate(cfg)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	m := manifest{
		Data:         "data.bin",
		Models:       map[string]string{},
		LearningRate: 0.01,
		BatchSize:    32,
		WarmupUsers:  20,
		Steps:        []steps{{Batch: 32, Steps: 800, Warmup: 20}, {Batch: 1024, Steps: 30, Warmup: 2}},
	}
	d, err := writeData(filepath.Join(dir, m.Data), ds)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for k := range 32 { // one sample from each of 32 users spread over the data
		u := k * (len(d.userOff) - 1) / 32
		m.CheckIndices = append(m.CheckIndices, int(d.userOff[u]+d.userOff[u+1])/2)
	}
	for _, a := range archs {
		mc := model.Config{Arch: a, EmbeddingDim: embeddingDim, HiddenUnits: hiddenUnits, Seed: 7}
		mod, err := model.New(mc, ds.Schema)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		name := a + ".lcft"
		if err := saveModel(filepath.Join(dir, name), mod); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		m.Models[a] = name
	}
	m.Widths = append(append([]int{5 * embeddingDim}, hiddenUnits...), 1)
	if err := writeJSON(filepath.Join(dir, manifestFile), m, stdout); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stdout, "exported %d samples of %d users (%d items, %d categories, history %d) and %v to %s\n",
		len(ds.Samples), len(d.userOff)-1, ds.Schema.NumItems, ds.Schema.NumCategories, ds.Schema.HistoryLen, archs, dir)
	return nil
}

func saveModel(path string, m *model.Model) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("saving the weights: %w", err)
	}
	if _, err := m.Save(f); err != nil {
		f.Close()
		return fmt.Errorf("saving the weights: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving the weights: %w", err)
	}
	return nil
}

// loadManifest reads dir's manifest, dataset and the path of each model.
func loadManifest(dir string) (*manifest, *peerData, error) {
	var m manifest
	if err := readJSON(filepath.Join(dir, manifestFile), &m); err != nil {
		return nil, nil, err
	}
	if m.BatchSize < 1 || !(m.LearningRate > 0) {
		return nil, nil, fmt.Errorf("manifest: batch size %d, learning rate %v", m.BatchSize, m.LearningRate)
	}
	d, err := readData(filepath.Join(dir, m.Data))
	if err != nil {
		return nil, nil, err
	}
	return &m, d, nil
}

// loadModel reads the initial weights of arch.
func loadModel(dir string, m *manifest, arch string) (*model.Model, error) {
	name, ok := m.Models[arch]
	if !ok {
		return nil, fmt.Errorf("manifest has no %s model", arch)
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", arch, err)
	}
	defer f.Close()
	mod, err := model.Load(f)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", arch, err)
	}
	return mod, nil
}

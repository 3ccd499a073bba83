package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/lcft-dev/lcft-operator/trainer/model"
	"github.com/lcft-dev/lcft-operator/trainer/optim"
)

// timing is the cost of one timed workload; the PyTorch side writes the
// same fields.
type timing struct {
	Users   int     `json:"users,omitempty"`
	Samples int     `json:"samples"`
	Wall    float64 `json:"wall"` // seconds
	CPU     float64 `json:"cpu"`  // user + system seconds of the process
	Loss    float64 `json:"loss"` // sum of the steps' mean losses (a sanity check)
}

// runResult is one side's results of one round.
type runResult struct {
	Side     string            `json:"side"`
	Threads  int               `json:"threads"`
	FineTune map[string]timing `json:"finetune"` // by architecture
	Step     map[string]timing `json:"step"`     // Wide&Deep, by batch size
	PeakRSS  int64             `json:"peakRSS"`  // bytes
	Version  string            `json:"version"`  // Go's; PyTorch's and its BLAS
}

// clock measures wall and process CPU time from its start.
type clock struct {
	wall time.Time
	cpu  float64
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024 // KiB on Linux
}

func startClock() clock { return clock{wall: time.Now(), cpu: cpuSeconds()} }

func (c clock) stop(t *timing) {
	t.Wall = time.Since(c.wall).Seconds()
	t.CPU = cpuSeconds() - c.cpu
}

// runBench fine-tunes every user of the dataset from each model's initial
// weights, then times Wide&Deep training steps at each batch size.
func runBench(dir, cpuprofile string) (*runResult, error) {
	m, d, err := loadManifest(dir)
	if err != nil {
		return nil, err
	}
	res := &runResult{Side: "go", Threads: runtime.GOMAXPROCS(0), FineTune: map[string]timing{}, Step: map[string]timing{}, Version: runtime.Version()}
	for _, a := range archs {
		base, err := loadModel(dir, m, a)
		if err != nil {
			return nil, err
		}
		stop, err := startProfile(cpuprofile, a == model.ArchWideDeep)
		if err != nil {
			return nil, err
		}
		t, err := fineTuneUsers(base, d, m)
		stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		res.FineTune[a] = t
	}
	for _, s := range m.Steps {
		base, err := loadModel(dir, m, model.ArchWideDeep)
		if err != nil {
			return nil, err
		}
		t, err := trainSteps(base, d, m, s)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", s.Batch, err)
		}
		res.Step[fmt.Sprint(s.Batch)] = t
	}
	res.PeakRSS = peakRSS()
	return res, nil
}

// startProfile starts a CPU profile into path when path is set and on,
// and returns what stops it.
func startProfile(path string, on bool) (func(), error) {
	if path == "" || !on {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// fineTuneUsers is the runner's per-user fine-tuning (trainer/runner's
// tuner.fineTune) without the shuffle: one replica, reset to the base for
// each user, one epoch over the user's samples in their order, batches of
// m.BatchSize, SGD. The first m.WarmupUsers users run once untimed.
func fineTuneUsers(base *model.Model, d *peerData, m *manifest) (timing, error) {
	opt, err := optim.NewSGD(float32(m.LearningRate), 1)
	if err != nil {
		return timing{}, err
	}
	rep, err := base.Fork()
	if err != nil {
		return timing{}, err
	}
	users := len(d.userOff) - 1
	tune := func(u int) (float64, error) {
		rep.Reset()
		lo, hi := int(d.userOff[u]), int(d.userOff[u+1])
		var loss float64
		for b := lo; b < hi; b += m.BatchSize {
			e := min(b+m.BatchSize, hi)
			l, err := rep.TrainStep(d.samples[b:e], d.labels[b:e], opt)
			if err != nil {
				return 0, fmt.Errorf("user %d: %w", u, err)
			}
			loss += float64(l)
		}
		return loss, nil
	}
	for u := range min(m.WarmupUsers, users) {
		if _, err := tune(u); err != nil {
			return timing{}, err
		}
	}
	t := timing{Users: users, Samples: len(d.samples)}
	c := startClock()
	for u := range users {
		l, err := tune(u)
		if err != nil {
			return timing{}, err
		}
		t.Loss += l
	}
	c.stop(&t)
	return t, nil
}

// trainSteps times s.Steps training steps of the base model.
func trainSteps(base *model.Model, d *peerData, m *manifest, s steps) (timing, error) {
	opt, err := optim.NewSGD(float32(m.LearningRate), 1)
	if err != nil {
		return timing{}, err
	}
	whole := len(d.samples) / s.Batch
	if whole == 0 {
		return timing{}, fmt.Errorf("%d samples make no batch of %d", len(d.samples), s.Batch)
	}
	step := func(k int) (float32, error) {
		lo := (k % whole) * s.Batch
		return base.TrainStep(d.samples[lo:lo+s.Batch], d.labels[lo:lo+s.Batch], opt)
	}
	for k := range s.Warmup {
		if _, err := step(k); err != nil {
			return timing{}, err
		}
	}
	t := timing{Samples: s.Steps * s.Batch}
	c := startClock()
	for k := range s.Steps {
		l, err := step(s.Warmup + k)
		if err != nil {
			return timing{}, err
		}
		t.Loss += float64(l)
	}
	c.stop(&t)
	return t, nil
}

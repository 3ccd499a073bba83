package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// report prints the per-round and median ratios of Go against PyTorch from
// dir/round-N.{go,torch}.json and round-N.load, the fraction of the FMA
// peak from dir/peak.json, and the 1-to-2-core ratios from dir/cores.json
// (each when present).
func report(dir string, w io.Writer) error {
	var m manifest
	if err := readJSON(filepath.Join(dir, manifestFile), &m); err != nil {
		return err
	}
	type round struct {
		g, t runResult
		load string
	}
	var rounds []round
	for n := 1; ; n++ {
		base := filepath.Join(dir, fmt.Sprintf("round-%d", n))
		var r round
		err := readJSON(base+".go.json", &r.g)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		if err := readJSON(base+".torch.json", &r.t); err != nil {
			return err
		}
		b, _ := os.ReadFile(base + ".load")
		r.load = strings.TrimSpace(string(b))
		rounds = append(rounds, r)
	}
	if len(rounds) == 0 {
		return fmt.Errorf("no round results in %s", dir)
	}
	type metric struct {
		name string
		get  func(r runResult) (timing, bool)
		per  string // "users" or "samples"
	}
	var metrics []metric
	for _, a := range archs {
		metrics = append(metrics, metric{"fine-tune " + a, func(r runResult) (timing, bool) { t, ok := r.FineTune[a]; return t, ok }, "users"})
	}
	for _, s := range m.Steps {
		k := fmt.Sprint(s.Batch)
		metrics = append(metrics, metric{"step batch " + k, func(r runResult) (timing, bool) { t, ok := r.Step[k]; return t, ok }, "samples"})
	}
	// rate is the work per wall second, or per CPU second with cpu.
	rate := func(t timing, per string, cpu bool) float64 {
		n, s := float64(t.Samples), t.Wall
		if per == "users" {
			n = float64(t.Users)
		}
		if cpu {
			s = t.CPU
		}
		return n / s
	}
	fmt.Fprintf(w, "\nGo (trainer/model, %s) against PyTorch %s, one thread each.\n"+
		"Rates per wall second and per CPU second; ratios: PyTorch/Go wall and CPU seconds for the same work (>1: Go is faster).\n",
		rounds[0].g.Version, rounds[0].t.Version)
	head := func(first string) {
		fmt.Fprintf(w, "%s%-19s %15s %15s %15s %15s %6s %6s\n", first, "workload", "Go /s", "PyTorch /s", "Go /CPU-s", "PyTorch /CPU-s", "wall", "CPU")
	}
	head(fmt.Sprintf("%-5s %-16s ", "round", "load before"))
	wallR := make(map[string][]float64)
	cpuR := make(map[string][]float64)
	goRate := make(map[string][]float64) // per wall second
	ptRate := make(map[string][]float64)
	goCPU := make(map[string][]float64) // per CPU second
	ptCPU := make(map[string][]float64)
	var rss []float64
	for i, r := range rounds {
		for _, mt := range metrics {
			g, ok1 := mt.get(r.g)
			t, ok2 := mt.get(r.t)
			if !ok1 || !ok2 {
				continue
			}
			gr, tr := rate(g, mt.per, false), rate(t, mt.per, false)
			gc, tc := rate(g, mt.per, true), rate(t, mt.per, true)
			wr, cr := t.Wall/g.Wall, t.CPU/g.CPU
			wallR[mt.name] = append(wallR[mt.name], wr)
			cpuR[mt.name] = append(cpuR[mt.name], cr)
			goRate[mt.name], ptRate[mt.name] = append(goRate[mt.name], gr), append(ptRate[mt.name], tr)
			goCPU[mt.name], ptCPU[mt.name] = append(goCPU[mt.name], gc), append(ptCPU[mt.name], tc)
			fmt.Fprintf(w, "%-5d %-16s %-19s %15s %15s %15s %15s %5.2fx %5.2fx\n", i+1, r.load, mt.name,
				fmtRate(gr, mt.per), fmtRate(tr, mt.per), fmtRate(gc, mt.per), fmtRate(tc, mt.per), wr, cr)
		}
		rr := float64(r.g.PeakRSS) / float64(r.t.PeakRSS)
		rss = append(rss, rr)
		fmt.Fprintf(w, "%-5d %-16s %-19s %11.1f MiB %11.1f MiB %38.2fx (Go/PyTorch)\n", i+1, r.load, "peak RSS", mib(r.g.PeakRSS), mib(r.t.PeakRSS), rr)
	}
	fmt.Fprintf(w, "\nmedian of %d rounds:\n", len(rounds))
	head("")
	for _, mt := range metrics {
		if len(wallR[mt.name]) == 0 {
			continue
		}
		fmt.Fprintf(w, "%-19s %15s %15s %15s %15s %5.2fx %5.2fx\n", mt.name,
			fmtRate(median(goRate[mt.name]), mt.per), fmtRate(median(ptRate[mt.name]), mt.per),
			fmtRate(median(goCPU[mt.name]), mt.per), fmtRate(median(ptCPU[mt.name]), mt.per),
			median(wallR[mt.name]), median(cpuR[mt.name]))
	}
	fmt.Fprintf(w, "%-19s %79.2fx (Go/PyTorch, <1: Go uses less)\n", "peak RSS", median(rss))
	// Both sides ran the same steps from the same weights: their summed
	// losses must agree (a check that the timed work is the same).
	worst := 0.0
	for _, r := range rounds {
		for _, mt := range metrics {
			g, ok1 := mt.get(r.g)
			t, ok2 := mt.get(r.t)
			if ok1 && ok2 {
				worst = max(worst, math.Abs(g.Loss-t.Loss)/max(math.Abs(t.Loss), 1e-12))
			}
		}
	}
	verdict := "the same training"
	if !(worst <= 1e-4) {
		verdict = "NOT the same training: the sides diverge"
	}
	fmt.Fprintf(w, "summed losses of every workload agree within %.1e (relative): %s\n", worst, verdict)

	flops := 0.0
	for l := 0; l+1 < len(m.Widths); l++ {
		flops += 3 * 2 * float64(m.Widths[l]*m.Widths[l+1]) // forward, dW and dX products
	}
	var pk peakResult
	if err := readJSON(filepath.Join(dir, "peak.json"), &pk); err == nil && pk.FLOPS > 0 {
		big := fmt.Sprint(m.Steps[len(m.Steps)-1].Batch)
		name := "step batch " + big
		g, t := median(goCPU[name]), median(ptCPU[name])
		fmt.Fprintf(w, "\nfloat32 FMA peak of one core: %.1f GFLOP per CPU second (%s loop); Wide&Deep MLP %v: %.0f FLOPs per training sample (forward, dW, dX)\n",
			pk.FLOPS/1e9, pk.ISA, m.Widths, flops)
		fmt.Fprintf(w, "batch %s, per CPU second: Go %.1f GFLOP/s = %.1f%% of peak; PyTorch %.1f GFLOP/s = %.1f%% of peak\n",
			big, g*flops/1e9, 100*g*flops/pk.FLOPS, t*flops/1e9, 100*t*flops/pk.FLOPS)
	}
	var cr coresResult
	if err := readJSON(filepath.Join(dir, "cores.json"), &cr); err == nil {
		fmt.Fprintf(w, "\nthe runner on 1 and 2 cores (GOMAXPROCS; %d users, %d pretraining epochs; median over the runs of each; \"busy\" is the run's CPU seconds per wall second,\n"+
			"about 1 for serial work on an idle machine; with a load average above the core count the ratio is the CPU share the scheduler gives):\n", cr.Work.Users, cr.Work.PretrainEpochs)
		for _, phase := range []string{"pretrain", "finetune"} {
			per := map[int][]float64{}
			cpu := map[int][]float64{}
			var loads []string
			for _, r := range cr.Runs {
				if r.Phase == phase && r.Seconds > 0 {
					per[r.Procs] = append(per[r.Procs], r.Work/r.Seconds)
					cpu[r.Procs] = append(cpu[r.Procs], r.CPU/r.Wall)
					loads = append(loads, r.Load)
				}
			}
			unit := map[string]string{"pretrain": "samples", "finetune": "users"}[phase]
			if len(per[1]) == 0 || len(per[2]) == 0 {
				continue
			}
			fmt.Fprintf(w, "%-9s 1 core %s/s, 2 cores %s/s: %.2fx (busy %.2f and %.2f); load before each run: %s\n", phase,
				fmtRate(median(per[1]), unit), fmtRate(median(per[2]), unit), median(per[2])/median(per[1]),
				median(cpu[1]), median(cpu[2]), strings.Join(loads, " | "))
		}
	}
	return nil
}

func fmtRate(v float64, per string) string { return fmt.Sprintf("%.0f %s", v, per) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

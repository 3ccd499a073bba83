package main

import (
	"runtime"

	"github.com/lcft-dev/lcft-operator/trainer/kernels"
)

// peakResult is the core's float32 FMA throughput measured by a loop of
// independent vector FMAs (no memory traffic): the ceiling a matrix kernel
// can reach on one core.
type peakResult struct {
	FLOPS float64 `json:"flops"` // float32 FLOPs per CPU second (an FMA counts 2), best of the ISAs
	ISA   string  `json:"isa"`
	// ByISA holds each measured instruction set's FLOP/s.
	ByISA map[string]float64 `json:"byISA"`
}

// measurePeak runs each available loop for about 0.2 s of CPU, five
// times, on the calling thread, and keeps the best rate per CPU second
// (process CPU time, so that other processes sharing the core do not
// lower it).
func measurePeak() (*peakResult, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res := &peakResult{ByISA: map[string]float64{}}
	for _, l := range kernels.PeakLoops() {
		iters := 1 << 16
		for {
			c0 := cpuSeconds()
			l.Run(iters)
			if cpuSeconds()-c0 > 0.02 {
				break
			}
			iters *= 2
		}
		iters *= 10 // about 0.2 s
		best := 0.0
		for range 5 {
			c0 := cpuSeconds()
			l.Run(iters)
			if c := cpuSeconds() - c0; c > 0 {
				best = max(best, float64(iters)*l.FLOPsPerIter/c)
			}
		}
		res.ByISA[l.ISA] = best
		if best > res.FLOPS {
			res.FLOPS, res.ISA = best, l.ISA
		}
	}
	return res, nil
}

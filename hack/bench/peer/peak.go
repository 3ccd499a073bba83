package main

import "runtime"

// peakResult is the core's float32 FMA throughput measured by a loop of
// independent vector FMAs (no memory traffic): the ceiling a matrix kernel
// can reach on one core.
type peakResult struct {
	FLOPS float64 `json:"flops"` // float32 FLOPs per CPU second (an FMA counts 2), best of the ISAs
	ISA   string  `json:"isa"`
	// ByISA holds each measured instruction set's FLOP/s.
	ByISA map[string]float64 `json:"byISA"`
}

// fmaLoop is one instruction set's FMA loop: iters iterations of
// flopsPerIter FLOPs.
type fmaLoop struct {
	isa          string
	flopsPerIter float64
	run          func(iters int)
}

// measurePeak runs each available loop for about 0.2 s of CPU, five
// times, on the calling thread, and keeps the best rate per CPU second
// (process CPU time, so that other processes sharing the core do not
// lower it).
func measurePeak() (*peakResult, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res := &peakResult{ByISA: map[string]float64{}}
	for _, l := range fmaLoops() {
		iters := 1 << 16
		for {
			c0 := cpuSeconds()
			l.run(iters)
			if cpuSeconds()-c0 > 0.02 {
				break
			}
			iters *= 2
		}
		iters *= 10 // about 0.2 s
		best := 0.0
		for range 5 {
			c0 := cpuSeconds()
			l.run(iters)
			if c := cpuSeconds() - c0; c > 0 {
				best = max(best, float64(iters)*l.flopsPerIter/c)
			}
		}
		res.ByISA[l.isa] = best
		if best > res.FLOPS {
			res.FLOPS, res.ISA = best, l.isa
		}
	}
	return res, nil
}

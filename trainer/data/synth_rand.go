package data

import (
	"math"
	"math/rand/v2"
)

// logGamma draws log X for X ~ Gamma(shape, 1), shape > 0. Working in logs
// keeps tiny shapes (strong drift) from underflowing X to 0.
func logGamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		// Gamma(a) = Gamma(a+1) * U^(1/a) (Marsaglia and Tsang, 2000, note 3).
		u := 1 - rng.Float64() // (0, 1]
		return logGamma(rng, shape+1) + math.Log(u)/shape
	}
	// Marsaglia and Tsang (2000), "A simple method for generating gamma
	// variables", for shape >= 1.
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return math.Log(d * v)
		}
	}
}

// betaMeanConc draws from Beta(mean*conc, (1-mean)*conc): mean in (0, 1),
// concentration conc > 0 (variance mean(1-mean)/(conc+1)).
func betaMeanConc(rng *rand.Rand, mean, conc float64) float64 {
	lx := logGamma(rng, mean*conc)
	ly := logGamma(rng, (1-mean)*conc)
	// X/(X+Y) = 1/(1+exp(lnY-lnX)), finite even when both X and Y underflow.
	return 1 / (1 + math.Exp(ly-lx))
}

// geometric draws the number of failures before a success with mean m >= 0.
func geometric(rng *rand.Rand, m float64) int {
	if m <= 0 {
		return 0
	}
	q := m / (1 + m) // failure probability
	u := 1 - rng.Float64()
	return int(math.Floor(math.Log(u) / math.Log(q)))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// solveOffset finds b with mean_i sigmoid(b + s_i) = target by bisection
// (the mean is increasing in b). Targets at or beyond the reach of
// [lo, hi] clamp to the end.
func solveOffset(scores []float64, target float64) float64 {
	maxAbs := 0.0
	for _, s := range scores {
		maxAbs = max(maxAbs, math.Abs(s))
	}
	// At |b| = maxAbs+30 every sigmoid is within e^-30 of 0 or 1.
	lo, hi := -maxAbs-30, maxAbs+30
	for range 100 {
		mid := (lo + hi) / 2
		m := 0.0
		for _, s := range scores {
			m += sigmoid(mid + s)
		}
		if m/float64(len(scores)) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

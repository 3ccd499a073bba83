package model

import "math"

// Sigmoid returns 1/(1+exp(-z)), the click probability of logit z.
func Sigmoid(z float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(z))))
}

// softplus returns log(1+exp(z)) without overflow.
func softplus(z float64) float64 {
	return max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
}

// crossEntropy sets dz[i] = (sigmoid(z[i]) - y[i]) * scale and returns the
// summed loss, sum_i softplus(z[i]) - y[i]*z[i], for logits z and soft labels
// y (any real values).
func crossEntropy(z, y, dz []float32, scale float32) float64 {
	y = y[:len(z)]
	dz = dz[:len(z)]
	var sum float64
	for i, zi := range z {
		zf, yf := float64(zi), float64(y[i])
		sum += softplus(zf) - yf*zf
		dz[i] = (Sigmoid(zi) - y[i]) * scale
	}
	return sum
}

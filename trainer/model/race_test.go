//go:build race

package model

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// Predict's workspace reuse is not allocation-free under it.
const raceEnabled = true

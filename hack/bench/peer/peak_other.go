//go:build !amd64

package main

// fmaLoops has no loop outside amd64: the peak is reported as unknown.
func fmaLoops() []fmaLoop { return nil }

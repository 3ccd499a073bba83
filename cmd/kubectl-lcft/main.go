// Command kubectl-lcft is a kubectl plugin for the lcft-operator: with the
// binary on PATH, "kubectl lcft" reads a FineTuneCohort's report from the
// artifact store (report, plots, compare) and explains why an object of the
// operator waits or failed (why).
//
// Reports are read through trainer/storage, with the credentials of the
// caller's environment (AWS_ACCESS_KEY_ID and the rest for s3://, as in the
// trainer pods, whose Secret's keys can be exported into the shell).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCommand(&options{stdout: os.Stdout, stderr: os.Stderr})
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		stop()
		os.Exit(1)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"unicode/utf8"

	"github.com/lcft-dev/lcft-operator/trainer/progress"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// cmdRun executes a run spec as one shard of a Job.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	specPath := fs.String("spec", "", "run spec JSON file (required)")
	termLog := fs.String("termination-log", "", "file to write the summary to (Kubernetes: /dev/termination-log); empty: stdout only")
	shardFlag := fs.Int("shard", -1, "shard index; default $"+runspec.EnvShardIndex+", else 0")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	applyMemoryLimit(stderr)
	shard := 0
	var kind runspec.Kind
	sum, err := func() (*runspec.Summary, error) {
		var err error
		if shard, err = shardIndex(*shardFlag); err != nil {
			return nil, err
		}
		if *specPath == "" {
			return nil, badInput("run needs --spec FILE")
		}
		spec, err := readSpec(*specPath)
		if err != nil {
			return nil, err
		}
		kind = spec.Kind
		if v := os.Getenv(runspec.EnvShardCount); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n != spec.Shards {
				return nil, badInput("$%s=%q disagrees with the spec's %d shards", runspec.EnvShardCount, v, spec.Shards)
			}
		}
		tr := serveProgress(ctx, os.Getenv(runspec.EnvProgressAddr), spec.Kind, shard, stderr)
		return runner.RunTracked(ctx, spec, shard, stderr, tr)
	}()
	if err == nil {
		b, encErr := sum.Encode()
		if encErr != nil {
			err = fmt.Errorf("the run succeeded but its summary cannot be reported: %w", encErr)
		} else {
			fmt.Fprintln(stdout, string(b))
			if kind == runspec.KindFinetune && sum.ReportURI != "" {
				// The pictures help people, the summary is the result: a
				// drawing failure is reported here and does not fail the shard.
				uris, derr := drawShardPictures(ctx, sum.ReportURI)
				for _, u := range uris {
					fmt.Fprintf(stderr, "lcft-trainer: wrote %s\n", u)
				}
				if derr != nil {
					fmt.Fprintf(stderr, "lcft-trainer: warning: drawing the shard's pictures: %v\n", derr)
				}
			}
			if werr := writeTermLog(*termLog, b); werr != nil {
				// The controller reads results from there: without it the
				// shard's work is lost, so fail (and retry).
				fmt.Fprintf(stderr, "lcft-trainer: %v\n", werr)
				return runspec.ExitFailure
			}
			return runspec.ExitOK
		}
	}
	fmt.Fprintf(stderr, "lcft-trainer: %v\n", err)
	msg := errorSummary(kind, shard, err)
	if werr := writeTermLog(*termLog, msg); werr != nil {
		fmt.Fprintf(stderr, "lcft-trainer: %v\n", werr)
	}
	return runner.ExitCode(err)
}

// serveProgress serves the shard's progress on addr ($LCFT_PROGRESS_ADDR)
// until ctx ends; with no address, no endpoint and a nil tracker. A port
// that cannot be opened is a warning: progress is informational, and the
// run's results do not depend on it.
func serveProgress(ctx context.Context, addr string, kind runspec.Kind, shard int, stderr io.Writer) *progress.Tracker {
	if addr == "" {
		return nil
	}
	tr := progress.NewTracker(kind, shard)
	bound, err := progress.Serve(ctx, addr, tr)
	if err != nil {
		fmt.Fprintf(stderr, "lcft-trainer: warning: no progress endpoint: %v\n", err)
		return nil
	}
	fmt.Fprintf(stderr, "lcft-trainer: serving progress on %s%s\n", bound, runspec.ProgressPath)
	return tr
}

// shardIndex is --shard when given, else $JOB_COMPLETION_INDEX, else 0.
func shardIndex(flagValue int) (int, error) {
	if flagValue >= 0 {
		return flagValue, nil
	}
	v := os.Getenv(runspec.EnvShardIndex)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badInput("$%s=%q is not a shard index", runspec.EnvShardIndex, v)
	}
	return n, nil
}

// readSpec decodes and validates a run spec file; any problem is bad input.
func readSpec(path string) (*runspec.Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badInput("reading the run spec: %w", err)
	}
	defer f.Close()
	spec, err := runspec.Decode(f)
	if err != nil {
		return nil, badInput("%s: %w", path, err)
	}
	return spec, nil
}

// errorSummary is the termination message of a failed shard: a Summary with
// Error set, the message shortened until it fits; if even that cannot be
// encoded, the plain message cut to MaxSummaryBytes.
func errorSummary(kind runspec.Kind, shard int, err error) []byte {
	msg := err.Error()
	for {
		s := runspec.Summary{Kind: kind, Shard: shard, Arch: runtime.GOARCH, Error: msg}
		b, encErr := s.Encode()
		if encErr == nil {
			return b
		}
		if len(msg) < 64 {
			break
		}
		msg = truncate(msg, len(msg)*3/4) + "…"
	}
	return []byte(truncate(err.Error(), runspec.MaxSummaryBytes))
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func writeTermLog(path string, b []byte) error {
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing the termination log: %w", err)
	}
	return nil
}

// badInput marks a CLI-level problem (flags, spec file) as bad input, so
// runner.ExitCode maps it to runspec.ExitBadInput.
func badInput(format string, args ...any) error {
	return &cliBadInput{fmt.Errorf(format, args...)}
}

type cliBadInput struct{ err error }

func (e *cliBadInput) Error() string   { return e.err.Error() }
func (e *cliBadInput) Unwrap() []error { return []error{e.err, runner.ErrBadInput} }

// applyMemoryLimit sets the Go runtime's soft memory limit to 90% of the
// container's memory limit, which the operator passes in
// $LCFT_MEMORY_LIMIT (bytes, from the downward API), so the garbage
// collector works harder near the limit instead of letting the heap reach
// twice the live data and the pod be OOMKilled. An explicit $GOMEMLIMIT
// wins.
func applyMemoryLimit(stderr io.Writer) {
	v := os.Getenv(runspec.EnvMemoryLimit)
	if v == "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit, err := strconv.ParseInt(v, 10, 64)
	if err != nil || limit <= 0 {
		fmt.Fprintf(stderr, "lcft-trainer: ignoring $%s=%q: not a positive number of bytes\n", runspec.EnvMemoryLimit, v)
		return
	}
	soft := limit / 10 * 9
	debug.SetMemoryLimit(soft)
	fmt.Fprintf(stderr, "lcft-trainer: memory limit %d MiB, Go soft limit %d MiB\n", limit>>20, soft>>20)
}

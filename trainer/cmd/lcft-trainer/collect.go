package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// cmdCollect reads one fine-tuning shard's report from the artifact store,
// checks it against the digest the shard's pod reported, and writes the
// summary the pod would have written to the termination log. The operator
// runs it, as an Indexed Job over the shards whose pods were gone before
// their termination messages were read, when it cannot read the store
// itself (object stores, pvc:// claims): the collect pod has the trainer
// pods' credentials and mounts, the manager has none. One pod per shard
// keeps each termination message the size of a shard's summary, which fits
// the 4 KiB limit by construction (runspec.Summary.Encode).
//
// Completion index i of the Job reads shard --shards[i], whose report must
// have digest --digests[i]. A report that does not match, cannot be
// decoded or is of another shard is bad input (exit 2, no retry); storage
// trouble that a retry may fix exits 1.
func cmdCollect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("collect", stderr)
	dir := fs.String("report-uri", "", "the run's output directory, which holds report-shard-<i>.json (required)")
	shardList := fs.String("shards", "", "comma-separated shards whose reports to read, by completion index (required)")
	digestList := fs.String("digests", "", "comma-separated sha256:<hex> digests their pods reported, in the order of --shards (required)")
	indexFlag := fs.Int("index", -1, "which of --shards to read; default $"+runspec.EnvShardIndex+", else 0")
	termLog := fs.String("termination-log", "", "file to write the summary to (Kubernetes: /dev/termination-log); empty: stdout only")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	shard := 0
	sum, err := func() (*runspec.Summary, error) {
		shards, digests, err := collectTargets(*dir, *shardList, *digestList)
		if err != nil {
			return nil, err
		}
		idx, err := shardIndex(*indexFlag)
		if err != nil {
			return nil, err
		}
		if idx >= len(shards) {
			return nil, badInput("index %d: --shards lists %d shard(s)", idx, len(shards))
		}
		shard = shards[idx]
		return collectShard(ctx, *dir, shard, digests[idx])
	}()
	if err == nil {
		b, encErr := sum.Encode()
		if encErr == nil {
			fmt.Fprintln(stdout, string(b))
			if werr := writeTermLog(*termLog, b); werr != nil {
				fmt.Fprintf(stderr, "lcft-trainer: %v\n", werr)
				return runspec.ExitFailure
			}
			return runspec.ExitOK
		}
		err = fmt.Errorf("shard %d: the recovered summary cannot be reported: %w", shard, encErr)
	}
	fmt.Fprintf(stderr, "lcft-trainer: %v\n", err)
	if werr := writeTermLog(*termLog, errorSummary(runspec.KindFinetune, shard, err)); werr != nil {
		fmt.Fprintf(stderr, "lcft-trainer: %v\n", werr)
	}
	return runner.ExitCode(err)
}

// collectTargets parses and checks collect's flags.
func collectTargets(dir, shardList, digestList string) ([]int, []string, error) {
	if dir == "" || shardList == "" || digestList == "" {
		return nil, nil, badInput("collect needs --report-uri, --shards and --digests")
	}
	shards, err := parseInts(shardList)
	if err != nil {
		return nil, nil, badInput("--shards: %w", err)
	}
	digests := splitList(digestList)
	if len(digests) != len(shards) {
		return nil, nil, badInput("--shards lists %d shard(s), --digests %d digest(s)", len(shards), len(digests))
	}
	for i, s := range shards {
		if s < 0 {
			return nil, nil, badInput("--shards: negative shard %d", s)
		}
		if hex, ok := strings.CutPrefix(digests[i], "sha256:"); !ok || len(hex) != 64 {
			return nil, nil, badInput("--digests: %q is not sha256:<64 hex digits>", digests[i])
		}
	}
	return shards, digests, nil
}

// collectShard reads shard's report under dir and verifies it.
func collectShard(ctx context.Context, dir string, shard int, digest string) (*runspec.Summary, error) {
	uri := storage.Join(dir, runspec.ShardReportFile(shard))
	r, err := storage.Open(ctx, uri)
	if err != nil {
		return nil, classified(err, "shard %d: reading its report", shard)
	}
	b, err := io.ReadAll(io.LimitReader(r, runspec.MaxReportBytes+1))
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, classified(err, "shard %d: reading its report", shard)
	}
	if len(b) > runspec.MaxReportBytes {
		return nil, badInput("shard %d: the report %s is over %d bytes", shard, uri, runspec.MaxReportBytes)
	}
	sum, err := runspec.VerifyShardReport(b, uri, shard, digest)
	if err != nil {
		return nil, badInput("%w", err)
	}
	return sum, nil
}

// classified wraps a storage error: permanent (missing object, access
// denied) is bad input, anything else may pass on retry.
func classified(err error, format string, args ...any) error {
	if storage.Permanent(err) {
		return badInput(format+": %w", append(args, err)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Command lcft-trainer pretrains CTR models and fine-tunes them per user
// with label correction (LCFT, arXiv 2211.01163). "run" is what the
// operator's Jobs execute; the other subcommands serve people at a
// terminal. See "lcft-trainer help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `lcft-trainer: on-device style fine-tuning of CTR models with label correction.

Usage: lcft-trainer COMMAND [flags]   (lcft-trainer COMMAND -h lists a command's flags)

Commands:
  run         execute a run spec (what the operator's Jobs run): --spec FILE
              --termination-log PATH [--shard N]; the shard defaults to
              $JOB_COMPLETION_INDEX, else 0. Writes the shard's summary JSON
              (or, on failure, a summary with "error") to the termination log.
  gen         write synthetic samples (canonical CSV) with controllable CTR drift
  pretrain    train a global (Cloud) model and save it (paper defaults: SGD,
              lr 1.0 decayed by 0.1 per epoch, batch 32, 2 epochs)
  finetune    fine-tune a cohort per user or pooled; report Cloud, Local, LCFT
  search      grid-search Hard labels per local-CTR group, validating on the
              rows the model held out (--holdout-fraction as pretrained);
              --seeds averages repetitions, --shards N --shard I splits users;
              a group leaves Auto only when a cell beats it (95% interval > 0)
  evaluate    Cloud user-level AUC of a saved model on a dataset's test split
  predict     score rows (canonical CSV or Parquet, or MovieLens) with a model
              artifact: --model URI --data URI --out SCORES.csv; writes
              user,item,timestamp,score (click probability); rows with ids
              the model never saw are not scored, and counted;
              --user-models FILE scores its users with their own deltas
  experiment  pretrain each model, fine-tune every user with each strategy,
              and print Cloud / Local / LCFT AUCs with paired bootstrap CIs;
              Hard searches on the pretraining holdout first; --seeds 1,2,3
              repeats the protocol and averages each user's AUCs over seeds
  report      draw the paper's pictures (PNG, SVG) and markdown tables from
              result JSONs: --in RESULT.json [--out DIR]
  collect     read fine-tuning shard reports from the artifact store, check
              them against their pods' digests, and write their summaries
              (what the operator runs when pods were gone before it read
              them): --report-uri DIR --shards 3,5 --digests sha256:..,sha256:..
              [--index I, default $JOB_COMPLETION_INDEX] --termination-log PATH
  help        this text

Dataset flags (pretrain, finetune, search, evaluate, experiment):
  --data URI --format MovieLens|Samples|Synthetic|Amazon|Implicit, --split PerUserFraction|Timestamp,
  --holdout-fraction F, --test-histories EarlierRows|TrainRows (README: Evaluation protocol)
  MovieLens: URI is a directory with ratings.csv and movies.csv; Samples: one
  canonical CSV (user,item,categories,label,timestamp); Amazon: a directory
  with reviews_Electronics_5.json and meta_Electronics.json (plain or .gz),
  split at 1385078400 by default; Implicit: one CSV or Parquet log of
  positives (user,item,timestamp,categories). Amazon and Implicit sample
  --negatives N per positive (default 5, seeded by --negative-seed). URIs may be paths,
  file://, mem://, s3://, gs:// or azblob://.

Exit codes:
  0  success
  1  failure that a retry may fix (storage or network trouble, interruption)
  2  bad input: invalid spec or flags, unreadable or malformed data, unknown
     model architecture, model digest mismatch, shard report digest
     mismatch (collect); retrying cannot help
`

// run is main without the process: it parses args, writes to stdout and
// stderr, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return runspec.ExitBadInput
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) int{
		"run":        cmdRun,
		"gen":        cmdGen,
		"pretrain":   cmdPretrain,
		"finetune":   cmdFinetune,
		"search":     cmdSearch,
		"evaluate":   cmdEvaluate,
		"predict":    cmdPredict,
		"experiment": cmdExperiment,
		"report":     cmdReport,
		"collect":    cmdCollect,
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return runspec.ExitOK
	default:
		cmd, ok := cmds[name]
		if !ok {
			fmt.Fprintf(stderr, "lcft-trainer: unknown command %q\n\n%s", name, usage)
			return runspec.ExitBadInput
		}
		return cmd(ctx, args[1:], stdout, stderr)
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lcft-trainer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args; the returned code is non-negative when the command
// must return it (help requested: 0; bad flags: 2).
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return runspec.ExitOK
		}
		return runspec.ExitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return runspec.ExitBadInput
	}
	return -1
}

// fail prints err and returns its exit code.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "lcft-trainer: %v\n", err)
	return runner.ExitCode(err)
}

// usageError is a flag problem found after parsing: bad input.
func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "lcft-trainer: "+format+"\n", args...)
	return runspec.ExitBadInput
}

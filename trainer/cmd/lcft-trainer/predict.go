package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// cmdPredict scores rows with a model artifact: what a serving system does
// with a GlobalModel or a Pooled cohort's group model.
func cmdPredict(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("predict", stderr)
	modelURI := fs.String("model", "", "URI of the model artifact (a GlobalModel's, or a Pooled cohort's status.model.uri) (required)")
	digest := fs.String("digest", "", "expected sha256:<hex> digest of the model (checked when set)")
	dataURI := fs.String("data", "", "rows to score: canonical samples CSV or Parquet (user,item,categories,label,timestamp), or a MovieLens directory (required)")
	format := fs.String("format", runner.FormatSamples, "format of --data: Samples or MovieLens")
	threshold := fs.Float64("threshold", 0, "MovieLens: a rating >= threshold is a click (0: 4 stars); it shapes the histories")
	historyLen := fs.Int("history-len", 0, "cap on each row's positive and negative histories (0: the model's)")
	out := fs.String("out", "", "URI or path of the scores CSV: user,item,timestamp,score (required)")
	userModels := fs.String("user-models", "", "a PerUser run's user-models-shard-<i>.lcftu made from --model: its users are scored with their own delta")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	switch {
	case *modelURI == "":
		return usageError(stderr, "predict needs --model")
	case *dataURI == "":
		return usageError(stderr, "predict needs --data")
	case *out == "":
		return usageError(stderr, "predict needs --out")
	case *format != runner.FormatSamples && *format != runner.FormatMovieLens:
		return usageError(stderr, "predict --format %q is not one of %s, %s", *format, runner.FormatSamples, runner.FormatMovieLens)
	case *historyLen < 0:
		return usageError(stderr, "predict --history-len %d is negative", *historyLen)
	}
	p, err := runner.Predict(ctx, runner.PredictSpec{
		Model:     runspec.ModelArtifact{URI: *modelURI, Digest: *digest},
		Dataset:   runspec.Dataset{Format: *format, URI: *dataURI, PositiveThreshold: *threshold, HistoryLength: *historyLen},
		OutputURI: *out, UserModelsURI: *userModels,
	}, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s, %s)\n", p.ModelURI, p.Architecture, p.ModelDigest)
	fmt.Fprintf(tw, "data\t%s (%s)\n", *dataURI, p.DatasetDigest)
	fmt.Fprintf(tw, "scored\t%d rows of %d users\n", p.Rows, p.Users)
	fmt.Fprintf(tw, "unknown to the model\t%d rows not scored: %d users, %d items unknown; %d categories unknown (left out of their items)\n",
		p.OOV.Samples, p.OOV.Users, p.OOV.Items, p.OOV.Categories)
	if *userModels != "" {
		fmt.Fprintf(tw, "user models\t%d users scored with their own delta, %d kept the global model (diverged), from %s\n", p.PersonalUsers, p.RolledBackUsers, *userModels)
	}
	fmt.Fprintf(tw, "scores\t%s\n", p.OutputURI)
	tw.Flush()
	return runspec.ExitOK
}

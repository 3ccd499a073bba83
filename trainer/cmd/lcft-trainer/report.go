package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/lcft-dev/lcft-operator/trainer/report"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}

// cmdReport draws the paper's pictures (local-CTR histogram, lift of LCFT
// over Local per local-CTR bucket, users improved/unchanged/degraded versus
// Cloud) from result JSONs and optionally writes their markdown tables.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", stderr)
	var in listFlag
	fs.Var(&in, "in", "result JSON URI or path: a fine-tuning report (report-shard-<i>.json; repeat or comma-separate the shards of a run), an experiment --out JSON (pictures need --per-user rows), or a search report (search-report-shard-<i>.json; repeat or comma-separate the shards of a sharded search to combine them; tables only); required")
	out := fs.String("out", "", "directory URI for the pictures (default: the directory of the first --in)")
	prefix := fs.String("prefix", "", "file name prefix of the pictures (default: the first --in's name without .json; the architecture is appended for experiments)")
	archs := fs.String("arch", "", "experiment: architectures to draw, comma-separated (default all)")
	strategies := fs.String("strategies", "", "strategies to draw, comma-separated (default all; None is the Local baseline)")
	formats := fs.String("formats", "png,svg", "picture formats, comma-separated: png, svg")
	buckets := fs.Int("buckets", 10, "equal local-CTR buckets of the lift chart (with per-user rows)")
	bins := fs.Int("bins", 20, "bins of the local-CTR histogram")
	label := fs.String("dataset-label", "", "data set name in the titles (default: from the experiment's dataset)")
	markdown := fs.String("markdown", "", "also write the results as markdown tables to this URI or path ('-': stdout)")
	plots := fs.Bool("plots", true, "draw the pictures (false: tables only)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if len(in) == 0 {
		return usageError(stderr, "report needs --in")
	}
	fmts := splitList(strings.ToLower(*formats))
	for _, f := range fmts {
		if f != "png" && f != "svg" {
			return usageError(stderr, "--formats: %q is not png or svg", f)
		}
	}
	if *plots && len(fmts) == 0 {
		return usageError(stderr, "--formats lists no format")
	}
	res, err := report.Load(ctx, in...)
	if err != nil {
		return fail(stderr, reportError(err))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "lcft-trainer: note: %s\n", n)
	}
	if *markdown != "" {
		var b bytes.Buffer
		if err := report.Markdown(&b, res); err != nil {
			return fail(stderr, reportError(err))
		}
		if *markdown == "-" {
			if _, err := stdout.Write(b.Bytes()); err != nil {
				return fail(stderr, err)
			}
		} else {
			if err := storage.WriteAll(ctx, *markdown, b.Bytes()); err != nil {
				return fail(stderr, reportError(err))
			}
			fmt.Fprintln(stdout, *markdown)
		}
	}
	if !*plots {
		return runspec.ExitOK
	}
	if res.Experiment == nil {
		if *markdown == "" {
			return usageError(stderr, "%s is a %s result: it has no pictures; use --markdown", in[0], res.Kind)
		}
		return runspec.ExitOK
	}
	models, err := res.Experiment.Select(splitList(*archs), splitList(*strategies))
	if err != nil {
		return fail(stderr, reportError(err))
	}
	dir := *out
	if dir == "" {
		dir = dirOf(in[0])
	}
	base := *prefix
	if base == "" {
		base = stem(in[0])
		if len(in) > 1 {
			base = "report"
		}
	}
	dsLabel := *label
	if dsLabel == "" {
		dsLabel = report.DatasetLabel(res.Experiment.Dataset)
	}
	uris, err := drawPictures(ctx, res, models, dir, base, fmts, report.Options{Buckets: *buckets, Bins: *bins, Dataset: dsLabel})
	for _, u := range uris {
		fmt.Fprintln(stdout, u)
	}
	if err != nil {
		return fail(stderr, reportError(err))
	}
	return runspec.ExitOK
}

// drawPictures writes the paper's three pictures of each model under dir,
// named base[-arch]-<picture>.<format>, and returns the URIs written.
func drawPictures(ctx context.Context, res *report.Result, models []report.ModelResult, dir, base string, fmts []string, opts report.Options) ([]string, error) {
	var written []string
	for _, m := range models {
		f, err := report.Build(m, opts)
		if err != nil {
			return written, err
		}
		p := base
		if res.Kind == report.KindExperiment || len(res.Experiment.Models) > 1 {
			p += "-" + strings.ToLower(m.Architecture)
		}
		uris, err := f.Write(ctx, dir, p, fmts)
		written = append(written, uris...)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// drawShardPictures puts the pictures of a fine-tuning shard beside its
// report (report-shard-<i>.json gives report-shard-<i>-<picture>.png/.svg),
// where the cohort's status.reportURI points.
func drawShardPictures(ctx context.Context, reportURI string) ([]string, error) {
	res, err := report.Load(ctx, reportURI)
	if err != nil {
		return nil, err
	}
	if res.Experiment == nil {
		return nil, nil
	}
	models, err := res.Experiment.Select(nil, nil)
	if err != nil {
		return nil, err
	}
	return drawPictures(ctx, res, models, dirOf(reportURI), stem(reportURI), []string{"png", "svg"}, report.Options{})
}

// reportError marks unusable inputs and permanent storage errors as bad
// input.
func reportError(err error) error {
	if errors.Is(err, report.ErrInput) || storage.Permanent(err) {
		return badInput("%w", err)
	}
	return err
}

// dirOf is the directory URI of an object URI: "runs/x/report.json" gives
// "runs/x", "s3://b/runs/x.json?region=r" gives "s3://b/runs?region=r".
func dirOf(uri string) string {
	head, query, hasQuery := strings.Cut(uri, "?")
	if !strings.Contains(head, "://") {
		return filepath.Dir(uri)
	}
	i := strings.LastIndex(head, "/")
	if j := strings.Index(head, "://"); i < j+3 {
		i = len(head) // no key: the bucket itself
	}
	head = head[:i]
	if hasQuery {
		return head + "?" + query
	}
	return head
}

// stem is the object's name without directory and ".json".
func stem(uri string) string {
	head, _, _ := strings.Cut(uri, "?")
	return strings.TrimSuffix(path.Base(filepath.ToSlash(head)), ".json")
}

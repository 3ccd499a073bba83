package main

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/report"
	"github.com/lcft-dev/lcft-operator/trainer/runner"
	"github.com/lcft-dev/lcft-operator/trainer/storage"
)

// cohortReport is a cohort with its merged shard reports.
type cohortReport struct {
	Cohort *finetunev1alpha1.FineTuneCohort
	Result *report.Result
	// Shards is the number of shards the run has (as its reports say); Read
	// those whose report exists under the report URI.
	Shards, Read int
}

// loadCohortReport reads the report files of cohort namespace/name from
// its status.reportURI (report-shard-<i>.json for each shard that wrote
// one) and merges them.
func loadCohortReport(ctx context.Context, c client.Client, namespace, name string) (*cohortReport, error) {
	var ftc finetunev1alpha1.FineTuneCohort
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &ftc); err != nil {
		return nil, fmt.Errorf("getting FineTuneCohort %s/%s: %w", namespace, name, err)
	}
	dir := ftc.Status.ReportURI
	if dir == "" {
		return nil, fmt.Errorf("FineTuneCohort %s/%s has no report yet (phase %q; see kubectl lcft why %s)", namespace, name, ftc.Status.Phase, name)
	}
	shards := max(int(ftc.Spec.Shards), 1)
	var uris []string
	for i := range shards {
		uri := storage.Join(dir, runner.ReportFile(i))
		ok, err := storage.Exists(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("FineTuneCohort %s/%s: %w", namespace, name, err)
		}
		if ok {
			uris = append(uris, uri)
		}
	}
	if len(uris) == 0 {
		return nil, fmt.Errorf("FineTuneCohort %s/%s: no %s under %s (phase %q)", namespace, name, runner.ReportFile(0), dir, ftc.Status.Phase)
	}
	res, err := report.Load(ctx, uris...)
	if err != nil {
		return nil, fmt.Errorf("FineTuneCohort %s/%s: %w", namespace, name, err)
	}
	if res.Experiment == nil {
		return nil, fmt.Errorf("FineTuneCohort %s/%s: %s is a %s result, not a fine-tuning report", namespace, name, uris[0], res.Kind)
	}
	// The run's own shard count (a Pooled run has one, whatever spec.shards says).
	for _, m := range res.Experiment.Models {
		for _, r := range m.Strategies {
			shards = max(r.Shards, 1)
		}
	}
	return &cohortReport{Cohort: &ftc, Result: res, Shards: shards, Read: len(uris)}, nil
}

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lcft-dev/lcft-operator/trainer/report"
)

func newPlotsCommand(o *options) *cobra.Command {
	var dir, formats string
	cmd := &cobra.Command{
		Use:   "plots COHORT -o DIR",
		Short: "The paper's pictures (local-CTR histogram, lift per local-CTR bucket, users up / same / down) as PNG and SVG",
		Long: `plots draws the three pictures of arXiv 2211.01163 from a cohort's report into
DIR (a local directory, or a file:// or s3:// URI), named
COHORT[-ARCHITECTURE]-{local-ctr,lift-by-ctr,auc-changes}.{png,svg}, and prints
the files written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return errors.New("plots needs -o DIR")
			}
			fmts := strings.Split(strings.ToLower(formats), ",")
			for _, f := range fmts {
				if f != "png" && f != "svg" {
					return fmt.Errorf("--formats: %q is not png or svg", f)
				}
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			cr, err := loadCohortReport(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			models := cr.Result.Experiment.Models
			for _, m := range models {
				f, err := report.Build(m, report.Options{})
				if err != nil {
					return fmt.Errorf("cohort %s, model %s: %w", args[0], m.Architecture, err)
				}
				prefix := args[0]
				if len(models) > 1 {
					prefix += "-" + strings.ToLower(m.Architecture)
				}
				uris, err := f.Write(cmd.Context(), dir, prefix, fmts)
				for _, u := range uris {
					fmt.Fprintln(o.stdout, u)
				}
				if err != nil {
					return fmt.Errorf("writing the pictures of %s: %w", args[0], err)
				}
			}
			notes(o.stderr, cr.Result.Notes)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output", "o", "", "directory (path, file:// or s3:// URI) for the pictures; required")
	cmd.Flags().StringVar(&formats, "formats", "png,svg", "picture formats, comma-separated: png, svg")
	return cmd
}

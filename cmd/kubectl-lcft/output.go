package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// write prints v as JSON or YAML, or calls table for the table format.
func write(w io.Writer, format string, v any, table func(io.Writer) error) error {
	switch format {
	case formatJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case formatYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if err := table(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// num is a number for JSON and YAML: nil when undefined (NaN or infinite).
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// auc formats an AUC with 5 decimals, "-" when undefined.
func auc(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.5f", *v)
}

// signed formats a difference with 5 decimals and its sign.
func signed(v *float64) string {
	if v == nil {
		return "-"
	}
	s := fmt.Sprintf("%+.5f", *v)
	if s == "-0.00000" {
		s = "+0.00000"
	}
	return s
}

// Interval is a paired bootstrap estimate of a difference of user-level
// AUCs: Mean on the data, [Lo, Hi] its 95% percentile interval.
type Interval struct {
	Mean  *float64 `json:"mean"`
	Lo    *float64 `json:"lo"`
	Hi    *float64 `json:"hi"`
	Users int      `json:"users"`
}

// String is "mean [lo, hi]", with " *" when the interval excludes 0.
func (iv Interval) String() string {
	if iv.Mean == nil {
		return "-"
	}
	s := signed(iv.Mean)
	if iv.Lo == nil || iv.Hi == nil {
		return s
	}
	s += " [" + signed(iv.Lo) + ", " + signed(iv.Hi) + "]"
	if *iv.Lo > 0 || *iv.Hi < 0 {
		s += " *"
	}
	return s
}

// notes prints each note on its own line after a blank line.
func notes(w io.Writer, ns []string) {
	if len(ns) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, n := range ns {
		fmt.Fprintf(w, "Note: %s\n", strings.TrimSpace(n))
	}
}

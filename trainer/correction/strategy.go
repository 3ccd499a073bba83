package correction

import (
	"errors"
	"fmt"
	"strings"
)

// Strategy names a label-correction strategy; the values are the names used
// in run specs and reports.
type Strategy string

const (
	None         Strategy = "None"
	SoftPositive Strategy = "SoftPositive"
	SoftNegative Strategy = "SoftNegative"
	Auto         Strategy = "Auto"
	Hard         Strategy = "Hard"
)

// Strategies lists every strategy, in documentation order.
var Strategies = []Strategy{None, SoftPositive, SoftNegative, Auto, Hard}

// ParseStrategy returns the strategy named s (case-insensitive, surrounding
// spaces ignored), or an error listing the valid names.
func ParseStrategy(s string) (Strategy, error) {
	t := strings.TrimSpace(s)
	for _, st := range Strategies {
		if strings.EqualFold(t, string(st)) {
			return st, nil
		}
	}
	names := make([]string, len(Strategies))
	for i, st := range Strategies {
		names[i] = string(st)
	}
	return "", fmt.Errorf("unknown label-correction strategy %q (want one of %s)", s, strings.Join(names, ", "))
}

// New returns the Corrector of strategy s. Hard needs a valid table; the
// other strategies take none (table must be empty).
func New(s Strategy, table HardTable) (Corrector, error) {
	if s != Hard && len(table) > 0 {
		return nil, fmt.Errorf("strategy %s takes no hard-label table", s)
	}
	switch s {
	case None:
		return Func(NoCorrection), nil
	case SoftPositive:
		return Func(SoftPositiveLabels), nil
	case SoftNegative:
		return Func(SoftNegativeLabels), nil
	case Auto:
		return Func(AutoLabels), nil
	case Hard:
		if len(table) == 0 {
			return nil, errors.New("strategy Hard needs a hard-label table")
		}
		if err := table.Validate(); err != nil {
			return nil, fmt.Errorf("strategy Hard: %w", err)
		}
		return table, nil
	}
	_, err := ParseStrategy(string(s))
	return nil, err
}

package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

func TestDecideRestart(t *testing.T) {
	const job = "c-ft-0123456789"
	state := func(name string, restarts int32, phase v1.Phase) restartState {
		return restartState{jobName: &name, restarts: &restarts, phase: phase}
	}
	cases := []struct {
		name  string
		state restartState
		want  restartDecision
	}{
		{"first run: no Job recorded", state("", 0, ""), restartDecision{}},
		{"another run's Job recorded", state("c-ft-aaaaaaaaaa", 0, v1.PhaseRunning), restartDecision{}},
		{"running Job gone", state(job, 0, v1.PhaseRunning), restartDecision{recreate: true}},
		{"suspended Job gone", state(job, 2, v1.PhaseSuspended), restartDecision{recreate: true}},
		{"budget spent", state(job, 3, v1.PhaseRunning), restartDecision{recreate: true, exceeded: true}},
		{"failed Job replaced for new credentials", state(job, 0, v1.PhaseFailed), restartDecision{}},
		{"finished Job's TTL, spec edited", state(job, 0, v1.PhaseSucceeded), restartDecision{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, decideRestart(tc.state, job, DefaultMaxJobRestarts), cmp.AllowUnexported(restartDecision{})); diff != "" {
				t.Errorf("decideRestart (-want +got):\n%s", diff)
			}
		})
	}
}

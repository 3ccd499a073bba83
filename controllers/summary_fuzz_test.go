package controllers

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// The patterns of Decimal and SignedDecimal in the CRDs (checked below).
const (
	decimalPattern       = `^([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$`
	signedDecimalPattern = `^-?([0-9]+([.][0-9]+)?|[.][0-9]+)([eE][-+]?[0-9]{1,2})?$`
)

var decimalRE, signedDecimalRE = regexp.MustCompile(decimalPattern), regexp.MustCompile(signedDecimalPattern)

func TestDecimalPatternsAreTheCRDs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", "finetune.lcft.dev_finetunecohorts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{decimalPattern, signedDecimalPattern} {
		if !strings.Contains(string(raw), "pattern: "+p+"\n") {
			t.Errorf("the FineTuneCohort CRD has no pattern %s: keep this test's copy in step with api/v1alpha1", p)
		}
	}
}

func TestFormatDecimalFitsThePattern(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {0.3, "0.3"}, {0.6666666, "0.666667"}, {1, "1"}, {123456789, "1.23457e+08"},
		{1e-5, "1e-05"}, {1e-99, "1e-99"}, {1e-120, "0"}, {-1e-300, "0"},
		{1e300, "9.99999e+99"}, {math.Inf(1), "9.99999e+99"}, {-0.25, "-0.25"}, {math.Inf(-1), "-9.99999e+99"},
	} {
		if got := string(formatDecimal(tc.in)); got != tc.want {
			t.Errorf("formatDecimal(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzFormatDecimal: every number but NaN is written in a form the API
// server accepts for a (signed) Decimal, and reads back close to itself.
func FuzzFormatDecimal(f *testing.F) {
	for _, v := range []float64{0, 0.5, 1e-99, 1e-100, 9.999995e99, 1e100, -3.25, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) {
			return
		}
		s := string(formatDecimal(v))
		if !signedDecimalRE.MatchString(s) || (v >= 0 && !decimalRE.MatchString(s)) {
			t.Fatalf("formatDecimal(%v) = %q does not fit the Decimal pattern", v, s)
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(v) >= 1e-99 && math.Abs(v) <= 9.99999e99 && math.Abs(back-v) > 5e-6*math.Abs(v) {
			t.Fatalf("formatDecimal(%v) = %q reads back as %v", v, s, back)
		}
	})
}

// FuzzShardSummaries reads two shards' termination messages as the
// controller does: whatever they say, no panic, and when both are accepted
// the cohort's status holds decimals the API server accepts and AUCs in
// [0, 1] (a status it would refuse would fail every reconcile after).
func FuzzShardSummaries(f *testing.F) {
	shard := `{"kind":"finetune","shard":%d,"arch":"amd64","finetune":{"cloud":{"s":3,"w":4},"local":{"s":3.2,"w":4},"lcft":{"s":3.5,"w":4},"users":2,"samples":40,"ctrSum":0.5,"posLabelSum":41,"negLabelSum":-2,"seconds":0.5}}`
	f.Add(strings.Replace(shard, "%d", "0", 1), strings.Replace(shard, "%d", "1", 1))
	f.Add(strings.Replace(shard, "%d", "0", 1), `{"kind":"finetune","shard":1,"finetune":{"samples":1,"seconds":1e-300,"posLabelSum":1e308}}`)
	f.Add(`{"kind":"finetune","shard":0,"finetune":{"cloud":{"s":1e-300,"w":1e300},"local":{"s":0,"w":1},"lcft":{"s":0,"w":1},"users":1,"ctrSum":1e308}}`, "OOMKilled")
	f.Fuzz(func(t *testing.T, msg0, msg1 string) {
		pods := []corev1.Pod{succeededTrainerPod("0", msg0), succeededTrainerPod("1", msg1)}
		summaries, shards := collectSummaries(pods, 2)
		for i, s := range summaries {
			if s == nil {
				return
			}
			if s.Shard != i || s.Error != "" || s.Validate() != nil {
				t.Fatalf("shard %d: accepted %+v", i, s)
			}
		}
		var st v1.FineTuneCohortStatus
		if err := writeCohortResults(&st, "Auto", "0.3", "file:///out", "All", runOutcome{summaries: summaries, shards: shards}); err != nil {
			return
		}
		for name, d := range map[string]v1.Decimal{"cloudAUC": st.CloudAUC, "localAUC": st.LocalAUC, "lcftAUC": st.LCFTAUC,
			"samplesPerSecond": st.SamplesPerSecond, "meanLocalCTR": st.MeanLocalCTR} {
			if d != "" && !decimalRE.MatchString(string(d)) {
				t.Fatalf("status %s %q does not fit the Decimal pattern", name, d)
			}
		}
		for name, d := range map[string]v1.SignedDecimal{"meanPositiveLabel": st.Labels.MeanPositiveLabel, "meanNegativeLabel": st.Labels.MeanNegativeLabel} {
			if d != "" && !signedDecimalRE.MatchString(string(d)) {
				t.Fatalf("status labels %s %q does not fit the SignedDecimal pattern", name, d)
			}
		}
		for _, d := range []v1.Decimal{st.CloudAUC, st.LocalAUC, st.LCFTAUC} {
			if v, err := strconv.ParseFloat(string(d), 64); d != "" && (err != nil || v < 0 || v > 1+1e-6) {
				t.Fatalf("status AUC %q outside [0, 1]", d)
			}
		}
	})
}

// succeededTrainerPod is a succeeded pod of completion index idx whose
// trainer container ended with the termination message msg.
func succeededTrainerPod(idx, msg string) corev1.Pod {
	pod := corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name: trainerContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Message: msg}},
	}}}}
	pod.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: idx}
	return pod
}

package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/lcft-dev/lcft-operator/trainer/data"
	"github.com/lcft-dev/lcft-operator/trainer/metrics"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// Float is a float64 that encodes NaN and infinities as JSON null (an
// undefined AUC) and decodes null as NaN.
type Float float64

// MarshalJSON writes null for NaN and ±Inf, the number otherwise.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decoding a number: %w", err)
	}
	*f = Float(v)
	return nil
}

// Defined reports whether f holds a number (not NaN or infinite).
func (f Float) Defined() bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// UserRow is one evaluated user of a fine-tuning report.
type UserRow struct {
	User     string  `json:"user"`     // raw user id of the source
	LocalCTR float64 `json:"localCTR"` // share of positives in the user's training samples
	Train    int     `json:"nTrain"`   // training samples fine-tuned on
	Test     int     `json:"nTest"`    // test samples scored (the AUC weight)
	// Positive and Negative are the LCFT targets of the user's positive
	// and negative training samples; Corrected is (Positive, Negative) != (1, 0).
	Positive  float64 `json:"positive"`
	Negative  float64 `json:"negative"`
	Corrected bool    `json:"corrected"`
	// Test AUCs, null when the test set has one class.
	Cloud Float `json:"cloud"`
	Local Float `json:"local"`
	LCFT  Float `json:"lcft"`
	// LocalDiverged and LCFTDiverged say why that arm's fine-tuning
	// diverged; the arm's AUC is then the Cloud AUC (the user keeps the
	// global model). Empty when it did not.
	LocalDiverged string `json:"localDiverged,omitempty"`
	LCFTDiverged  string `json:"lcftDiverged,omitempty"`
}

// MethodAUC is a user-level AUC: Sum n_u*AUC_u / Sum n_u over Users users.
type MethodAUC struct {
	AUC    Float   `json:"auc"` // null without users
	Users  int     `json:"users"`
	Weight float64 `json:"weight"` // test samples of those users
}

// Interval is a paired bootstrap estimate of a user-level AUC difference:
// Mean on the full data, [Lo, Hi] the 95% percentile interval over
// resampled users.
type Interval struct {
	Mean      Float `json:"mean"`
	Lo        Float `json:"lo"`
	Hi        Float `json:"hi"`
	Users     int   `json:"users"`
	Resamples int   `json:"resamples"`
}

// Changes counts users whose AUC went up, stayed within
// metrics.DefaultTolerance, or went down, with their shares.
type Changes struct {
	Improved       int     `json:"improved"`
	Unchanged      int     `json:"unchanged"`
	Degraded       int     `json:"degraded"`
	ImprovedShare  float64 `json:"improvedShare"`
	UnchangedShare float64 `json:"unchangedShare"`
	DegradedShare  float64 `json:"degradedShare"`
}

// LiftBucket is the LCFT-over-Local lift among users whose local CTR is in
// [Lo, Hi) (the last bucket includes 1).
type LiftBucket struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Users int     `json:"users"`
	LCFT  Float   `json:"lcft"`
	Local Float   `json:"local"`
	Lift  Float   `json:"lift"` // LCFT - Local, null without users
}

// Report is the full result of one fine-tuning shard (the JSON at
// Summary.ReportURI), or of one strategy of CompareStrategies.
type Report struct {
	Name         string               `json:"name,omitempty"`
	Shard        int                  `json:"shard"`
	Shards       int                  `json:"shards"`
	Arch         string               `json:"arch"`         // GOARCH of the run
	Architecture string               `json:"architecture"` // of the global model
	ModelURI     string               `json:"modelURI"`
	ModelDigest  string               `json:"modelDigest"`
	Strategy     string               `json:"strategy"`
	Mode         string               `json:"mode"`
	GlobalCTR    float64              `json:"globalCTR"`
	Cohort       runspec.Cohort       `json:"cohort"`
	Optimization runspec.Optimization `json:"optimization"`
	// PooledCTR is the local CTR of the cohort's pooled training samples
	// (Pooled mode), which chose the pooled labels.
	PooledCTR *float64 `json:"pooledCTR,omitempty"`
	// DatasetDigest is the sha256 of the dataset read; OOV what the
	// model's vocabulary left out of this shard's rows.
	DatasetDigest string   `json:"datasetDigest,omitempty"`
	OOV           data.OOV `json:"outOfVocabulary"`
	BytesRead     int64    `json:"bytesRead,omitempty"` // of dataset partitions

	Cloud MethodAUC `json:"cloud"`
	Local MethodAUC `json:"local"`
	LCFT  MethodAUC `json:"lcft"`
	// LCFT minus Local and LCFT minus Cloud, paired over users.
	LCFTvsLocal Interval `json:"lcftVsLocal"`
	LCFTvsCloud Interval `json:"lcftVsCloud"`
	// Per-user changes of LCFT versus Cloud (the summary's counts) and
	// versus Local.
	VsCloud Changes `json:"vsCloud"`
	VsLocal Changes `json:"vsLocal"`
	// LiftByCTR: LCFT over Local per local-CTR bucket (10 equal buckets).
	LiftByCTR []LiftBucket `json:"liftByLocalCTR"`

	// GroupModel is the model a Pooled run saved (shard 0), or nil.
	GroupModel *GroupModel `json:"groupModel,omitempty"`
	// UserModels is the file of user deltas a PerUser run saved, or nil.
	UserModels *UserModelsSummary `json:"userModels,omitempty"`

	// Diverged lists the users rolled back to the Cloud model, per arm (in
	// user order, Local before LCFT); Summary.DivergedUsers counts them.
	Diverged []DivergedUser `json:"diverged,omitempty"`

	Users   []UserRow             `json:"users"`
	Summary runspec.FinetuneStats `json:"summary"`
}

// liftBuckets is the number of equal local-CTR buckets of the lift report.
const liftBuckets = 10

// Summarize recomputes the report's aggregates from its per-user rows, as a
// shard computes them: for merged shards, or rows edited by hand. It keeps
// Summary.SkippedUsers, Summary.Seconds and the out-of-vocabulary counts,
// which rows cannot tell, and seeds the bootstrap with Optimization.Seed.
func (r *Report) Summarize(resamples int) error {
	return r.summarize(int(r.Summary.SkippedUsers), r.Summary.Seconds, resamples, r.Optimization.Seed)
}

// summarize fills the report's aggregates from its rows. Sums run over the
// rows in order, so the same rows always give bit-identical sums.
func (r *Report) summarize(skipped int, seconds float64, resamples int, seed uint64) error {
	st := runspec.FinetuneStats{SkippedUsers: int64(skipped), Seconds: seconds,
		OOVSamples: r.OOV.Samples, OOVUsers: int64(r.OOV.Users), OOVItems: int64(r.OOV.Items), BytesRead: r.BytesRead,
		UserModels: r.Summary.UserModels, UserModelBytes: r.Summary.UserModelBytes}
	n := len(r.Users)
	cloud, local, lcft := make([]float64, n), make([]float64, n), make([]float64, n)
	ctr, weights := make([]float64, n), make([]float64, n)
	var vsCloud, vsLocal metrics.Changes
	r.Diverged = nil
	for i, u := range r.Users {
		if u.LocalDiverged != "" {
			st.DivergedUsers.Local++
			r.Diverged = append(r.Diverged, DivergedUser{User: u.User, Arm: "Local", Reason: u.LocalDiverged})
		}
		if u.LCFTDiverged != "" {
			st.DivergedUsers.LCFT++
			r.Diverged = append(r.Diverged, DivergedUser{User: u.User, Arm: "LCFT", Reason: u.LCFTDiverged})
		}
		st.Users++
		st.Samples += int64(u.Train)
		st.LocalCTRSum += u.LocalCTR
		st.PositiveLabelSum += float64(u.Train) * u.Positive
		st.NegativeLabelSum += float64(u.Train) * u.Negative
		if u.Corrected {
			st.CorrectedUsers++
		}
		cloud[i], local[i], lcft[i] = float64(u.Cloud), float64(u.Local), float64(u.LCFT)
		ctr[i], weights[i] = u.LocalCTR, float64(u.Test)
		if !u.Cloud.Defined() || !u.Local.Defined() || !u.LCFT.Defined() {
			st.SingleClassUsers++
			continue
		}
		w := float64(u.Test)
		st.Cloud.Sum += w * cloud[i]
		st.Cloud.Weight += w
		st.Local.Sum += w * local[i]
		st.Local.Weight += w
		st.LCFT.Sum += w * lcft[i]
		st.LCFT.Weight += w
		vsCloud.Add(cloud[i], lcft[i], metrics.DefaultTolerance)
		vsLocal.Add(local[i], lcft[i], metrics.DefaultTolerance)
		if err := st.LCFTLocal.Observe(int64(u.Test), lcft[i]-local[i]); err != nil {
			return fmt.Errorf("user %q: %w", u.User, err)
		}
		if err := st.LCFTCloud.Observe(int64(u.Test), lcft[i]-cloud[i]); err != nil {
			return fmt.Errorf("user %q: %w", u.User, err)
		}
	}
	st.Improved, st.Unchanged, st.Degraded = int64(vsCloud.Improved), int64(vsCloud.Unchanged), int64(vsCloud.Degraded)
	r.Summary = st
	scored := int(st.Users - st.SingleClassUsers)
	r.Cloud, r.Local, r.LCFT = methodAUC(st.Cloud, scored), methodAUC(st.Local, scored), methodAUC(st.LCFT, scored)
	r.VsCloud, r.VsLocal = changes(vsCloud), changes(vsLocal)
	var err error
	if r.LCFTvsLocal, err = interval(lcft, local, weights, scored, resamples, seed); err != nil {
		return err
	}
	if r.LCFTvsCloud, err = interval(lcft, cloud, weights, scored, resamples, seed); err != nil {
		return err
	}
	edges, err := metrics.EqualEdges(liftBuckets)
	if err != nil {
		return err
	}
	buckets, err := metrics.LiftByBucket(ctr, lcft, local, weights, edges)
	if err != nil {
		return fmt.Errorf("lift by local CTR: %w", err)
	}
	r.LiftByCTR = make([]LiftBucket, len(buckets))
	for k, b := range buckets {
		lb := LiftBucket{Lo: b.Lo, Hi: b.Hi, Users: b.Users(), LCFT: Float(nan), Local: Float(nan), Lift: Float(nan)}
		if v, ok := b.A.Value(); ok {
			lb.LCFT = Float(v)
		}
		if v, ok := b.B.Value(); ok {
			lb.Local = Float(v)
		}
		if v, ok := b.Lift(); ok {
			lb.Lift = Float(v)
		}
		r.LiftByCTR[k] = lb
	}
	return nil
}

func methodAUC(w runspec.WeightedAUC, users int) MethodAUC {
	m := MethodAUC{AUC: Float(nan), Users: users, Weight: w.Weight}
	if v, ok := w.Value(); ok {
		m.AUC = Float(v)
	}
	return m
}

func changes(c metrics.Changes) Changes {
	i, u, d := c.Shares()
	return Changes{Improved: c.Improved, Unchanged: c.Unchanged, Degraded: c.Degraded, ImprovedShare: i, UnchangedShare: u, DegradedShare: d}
}

// interval is the paired bootstrap of a minus b; all null without users.
func interval(a, b, w []float64, users, resamples int, seed uint64) (Interval, error) {
	iv := Interval{Mean: Float(nan), Lo: Float(nan), Hi: Float(nan), Users: users, Resamples: resamples}
	if users == 0 {
		return iv, nil
	}
	mean, lo, hi, err := metrics.PairedBootstrap(a, b, w, resamples, seed)
	if err != nil {
		return iv, fmt.Errorf("bootstrap: %w", err)
	}
	iv.Mean, iv.Lo, iv.Hi = Float(mean), Float(lo), Float(hi)
	return iv, nil
}

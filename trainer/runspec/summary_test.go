package runspec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validSummaries are summaries as trainer shards write them, one per kind
// and a failed shard's.
func validSummaries() map[string]*Summary {
	return map[string]*Summary{
		"finetune": {Kind: KindFinetune, Shard: 2, Arch: "arm64", ReportURI: "s3://b/runs/ftc/3/report-2.json",
			DatasetDigest: "sha256:ab", PeakRSSBytes: 1 << 27, CgroupPeakBytes: 1 << 28,
			Finetune: &FinetuneStats{
				Cloud: WeightedAUC{Sum: 30.5, Weight: 50}, Local: WeightedAUC{Sum: 31, Weight: 50}, LCFT: WeightedAUC{Sum: 33.25, Weight: 50},
				Users: 12, SkippedUsers: 3, SingleClassUsers: 1, Improved: 7, Unchanged: 2, Degraded: 3, CorrectedUsers: 9,
				Samples: 480, LocalCTRSum: 2.5, PositiveLabelSum: 130, NegativeLabelSum: -4.5, Seconds: 1.75,
				OOVSamples: 4, OOVUsers: 1, OOVItems: 2, BytesRead: 4096, DivergedUsers: ArmCounts{Local: 1}, UserModels: 12, UserModelBytes: 9000,
				LCFTLocal: PairedSums{Users: 11, Weight: 50, Weight2: 260, Sum: 2 << 20, SumSq: 1 << 18},
			}},
		"pooled finetune with its model": {Kind: KindFinetune, Shard: 0, Arch: "amd64",
			Finetune: &FinetuneStats{Cloud: WeightedAUC{Sum: 1, Weight: 1}, Local: WeightedAUC{Sum: 1, Weight: 1}, LCFT: WeightedAUC{Sum: 1, Weight: 1}, Users: 1},
			Model:    &SavedModel{URI: "file:///m/group.lcft", Digest: "sha256:00", RolledBack: true}},
		"pretrain": {Kind: KindPretrain, Shard: 0, Arch: "amd64", Pretrain: &PretrainStats{
			ArtifactURI: "file:///m/model.lcft", Digest: "sha256:01", GlobalCTR: 0.31, Users: 600, Samples: 36000, CloudAUC: 0.72,
			Quantiles: [][2]float64{{0.1, 0.05}, {0.5, 0.3}, {0.9, 0.7}}, Seconds: 12.5}},
		"verify":                         {Kind: KindVerify, Arch: "amd64", Pretrain: &PretrainStats{ArtifactURI: "file:///m/model.lcft", Digest: "sha256:02", GlobalCTR: 0.3}},
		"search":                         {Kind: KindSearch, Arch: "arm64", Search: randomSearch(20, 0, 1, nil)},
		"failed shard":                   {Kind: KindFinetune, Shard: 1, Arch: "amd64", Error: "reading s3://b/data: access denied"},
		"failed before reading the spec": {Shard: 0, Arch: "amd64", Error: "run needs --spec FILE"},
	}
}

func TestSummaryRoundTrip(t *testing.T) {
	for name, want := range validSummaries() {
		t.Run(name, func(t *testing.T) {
			b, err := want.Encode()
			if err != nil {
				t.Fatalf("encoding: %v", err)
			}
			got, err := DecodeSummary(string(b))
			if err != nil {
				t.Fatalf("decoding %s: %v", b, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// edit returns a valid finetune summary's JSON with change applied.
func edit(t *testing.T, change func(*Summary)) string {
	t.Helper()
	s := validSummaries()["finetune"]
	change(s)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeSummaryRefusesWhatNoTrainerWrites(t *testing.T) {
	cases := []struct {
		name, msg, want string
	}{
		{"empty message", "", "unexpected end of JSON input"},
		{"not JSON", "OOMKilled", "invalid character"},
		{"null", "null", "kind is empty"},
		{"trailing data", `{"kind":"verify","pretrain":{}} {"kind":"verify"}`, "invalid character"},
		{"cut by Kubernetes", `{"kind":"finetune","error":"` + strings.Repeat("x", MaxSummaryBytes) + `"}`, "over the 4096-byte"},
		{"unknown kind", `{"kind":"train","pretrain":{}}`, `kind "train" is not one of`},
		{"negative shard", edit(t, func(s *Summary) { s.Shard = -1 }), "shard -1 is negative"},
		{"finetune without statistics", edit(t, func(s *Summary) { s.Finetune = nil }), "no finetune statistics"},
		{"search without statistics", `{"kind":"search","shard":0}`, "no search statistics"},
		{"AUC above one", edit(t, func(s *Summary) { s.Finetune.LCFT = WeightedAUC{Sum: 51, Weight: 50} }), "finetune.lcft: AUC sum 51 is outside [0, weight 50]"},
		{"negative AUC sum", edit(t, func(s *Summary) { s.Finetune.Cloud.Sum = -1 }), "finetune.cloud: AUC sum -1"},
		{"negative weight", edit(t, func(s *Summary) { s.Finetune.Local = WeightedAUC{Sum: -2, Weight: -1} }), "finetune.local.w -1 is outside"},
		{"negative users", edit(t, func(s *Summary) { s.Finetune.Users = -3 }), "finetune.users -3 is negative"},
		{"negative diverged count", edit(t, func(s *Summary) { s.Finetune.DivergedUsers.LCFT = -1 }), "finetune.divergedUsers.lcft -1 is negative"},
		{"negative seconds", edit(t, func(s *Summary) { s.Finetune.Seconds = -1 }), "finetune.seconds -1 is outside"},
		{"negative peak RSS", edit(t, func(s *Summary) { s.PeakRSSBytes = -1 }), "peakRSS -1 is negative"},
		{"float overflow", `{"kind":"finetune","finetune":{"seconds":1e999}}`, "cannot unmarshal number 1e999"},
		{"global CTR above one", `{"kind":"pretrain","pretrain":{"globalCTR":1.5}}`, "pretrain.globalCTR 1.5 is outside [0, 1]"},
		{"cloud AUC above one", `{"kind":"verify","pretrain":{"cloudAUC":2}}`, "pretrain.cloudAUC 2 is outside"},
		{"quantile outside [0, 1]", `{"kind":"pretrain","pretrain":{"quantiles":[[0.5,1.2]]}}`, "pretrain.quantiles[0] local CTR 1.2"},
		{"search group upside down", `{"kind":"search","search":{"groups":[{"min":0.6,"max":0.3}]}}`, "search.groups[0].max 0.3 is outside [0.6, 1]"},
		{"search label beyond the bound", `{"kind":"search","search":{"pos":[1000],"groups":[]}}`, "search label 1000 is outside [-100, 100]"},
		{"search global CTR above one", `{"kind":"search","search":{"g":1.5,"groups":[]}}`, "search.g 1.5 is outside [0, 1]"},
		{"search sums malformed", `{"kind":"search","search":{"groups":[{"min":0,"max":1,"sums":"AQ"}]}}`, "decoding search sums"},
		{"negative paired weight", edit(t, func(s *Summary) { s.Finetune.LCFTLocal.Weight = -1 }), "finetune.lcftLocal.w -1 is negative"},
		{"paired sum beyond its weight", edit(t, func(s *Summary) { s.Finetune.LCFTCloud = PairedSums{Users: 1, Weight: 1, Weight2: 1, Sum: 5 << 20} }), "finetune.lcftCloud: sums 5242880, 0 exceed the weight 1"},
		{"wrong type", `{"kind":"finetune","shard":"0"}`, "cannot unmarshal string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeSummary(tc.msg)
			if err == nil {
				t.Fatalf("accepted %q as %+v", tc.msg, s)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestEncodeRefusesAnOversizedSummary(t *testing.T) {
	s := &Summary{Kind: KindFinetune, Error: strings.Repeat("e", MaxSummaryBytes)}
	if _, err := s.Encode(); err == nil || !strings.Contains(err.Error(), "termination message limit") {
		t.Fatalf("want the size error, got %v", err)
	}
}

func TestFinetuneStatsAdd(t *testing.T) {
	a := validSummaries()["finetune"].Finetune
	b := &FinetuneStats{Cloud: WeightedAUC{Sum: 1, Weight: 2}, Users: 1, OOVItems: 5, DivergedUsers: ArmCounts{LCFT: 2}, Seconds: 0.25}
	got := *a
	got.Add(b)
	want := *a
	want.Cloud = WeightedAUC{Sum: 31.5, Weight: 52}
	want.Users = 13
	want.OOVItems = 5 // the largest shard's, not a sum
	want.DivergedUsers = ArmCounts{Local: 1, LCFT: 2}
	want.Seconds = 2
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Add (-want +got):\n%s", diff)
	}
	if v, ok := got.Cloud.Value(); !ok || v != 31.5/52 {
		t.Errorf("Cloud AUC = %v, %v; want %v", v, ok, 31.5/52)
	}
	if _, ok := (WeightedAUC{}).Value(); ok {
		t.Error("an empty statistic has a value")
	}
}

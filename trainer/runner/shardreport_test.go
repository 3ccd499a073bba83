package runner

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

// The controller reads a shard's report as a runspec.ShardReport when the
// shard's pod is gone: the report's fields it needs must decode under the
// names the contract gives them, into the summary the pod would have written.
func TestReportDecodesAsShardReport(t *testing.T) {
	st := runspec.FinetuneStats{Users: 7, Samples: 140, Cloud: runspec.WeightedAUC{Sum: 3.5, Weight: 5}, OOVItems: 2,
		DivergedUsers: runspec.ArmCounts{LCFT: 1}, UserModels: 7, UserModelBytes: 900}
	rep := &Report{Shard: 1, Shards: 2, Arch: "arm64", DatasetDigest: "sha256:d", Summary: st,
		GroupModel: &GroupModel{URI: "s3://b/run/group-model.lcft", Digest: "sha256:g", RolledBack: true, Diverged: "nan"},
		UserModels: &UserModelsSummary{URI: "s3://b/run/user-models-shard-1.lcftu", Users: 7}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runspec.DecodeShardReport(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &runspec.Summary{Kind: runspec.KindFinetune, Shard: 1, Arch: "arm64", Finetune: &st, ReportURI: "u", ReportDigest: "sha256:r",
		DatasetDigest: "sha256:d", Model: &runspec.SavedModel{URI: "s3://b/run/group-model.lcft", Digest: "sha256:g", RolledBack: true},
		UserModelsURI: "s3://b/run/user-models-shard-1.lcftu"}
	if diff := cmp.Diff(want, got.AsSummary("u", "sha256:r")); diff != "" {
		t.Errorf("summary from the report (-want +got):\n%s", diff)
	}
}

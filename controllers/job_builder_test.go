package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/trainer/runspec"
)

func testRun(placement v1.Placement) run {
	owner := &v1.FineTuneCohort{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ctr-low", UID: "uid-1"}}
	return run{
		owner:     owner,
		ownerKind: "FineTuneCohort",
		spec: runspec.Spec{
			Version: runspec.Version, Kind: runspec.KindFinetune, Shards: 3,
			Dataset:     runspec.Dataset{Format: "MovieLens", URI: "pvc://datasets/ml-20m"},
			GlobalModel: &runspec.ModelArtifact{URI: "pvc://models/wd/model.lcft"},
			OutputURI:   "pvc://models/runs/ctr-low",
		},
		placement: placement,
	}
}

func TestPoolPlacement(t *testing.T) {
	custom := PoolMap{v1.PoolARM64: {"node.example.com/pool": "graviton"}, v1.PoolAMD64: {ArchLabel: "amd64"}}
	cases := []struct {
		name      string
		pools     PoolMap
		placement v1.Placement
		want      map[string]string
	}{
		{"any pool selects nothing", DefaultPoolMap(), v1.Placement{Pool: v1.PoolAny}, nil},
		{"arm64 by arch label", DefaultPoolMap(), v1.Placement{Pool: v1.PoolARM64}, map[string]string{ArchLabel: "arm64"}},
		{"amd64 by arch label", DefaultPoolMap(), v1.Placement{Pool: v1.PoolAMD64}, map[string]string{ArchLabel: "amd64"}},
		{"pool map relabels arm64", custom, v1.Placement{Pool: v1.PoolARM64}, map[string]string{"node.example.com/pool": "graviton"}},
		{"user selector is kept, pool wins on conflict", DefaultPoolMap(),
			v1.Placement{Pool: v1.PoolARM64, NodeSelector: map[string]string{"disk": "ssd", ArchLabel: "amd64"}},
			map[string]string{"disk": "ssd", ArchLabel: "arm64"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := buildRun(testRun(tc.placement), Options{TrainerImage: "img", Pools: tc.pools})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, objs.job.Spec.Template.Spec.NodeSelector); diff != "" {
				t.Errorf("node selector (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJobIsRestrictedIndexedAndFailsFastOnBadInput(t *testing.T) {
	objs, err := buildRun(testRun(v1.Placement{Pool: v1.PoolARM64}), Options{TrainerImage: "img", Pools: DefaultPoolMap()})
	if err != nil {
		t.Fatal(err)
	}
	job := objs.job
	if got := ptr.Deref(job.Spec.CompletionMode, ""); got != batchv1.IndexedCompletion {
		t.Errorf("completion mode %q", got)
	}
	if *job.Spec.Completions != 3 || *job.Spec.Parallelism != 3 {
		t.Errorf("completions/parallelism %d/%d; want 3/3", *job.Spec.Completions, *job.Spec.Parallelism)
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	wantContainerSC := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantContainerSC, c.SecurityContext); diff != "" {
		t.Errorf("container security context (-want +got):\n%s", diff)
	}
	if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context: %+v", pod.SecurityContext)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever || *pod.AutomountServiceAccountToken {
		t.Errorf("restartPolicy %s, automount token %v", pod.RestartPolicy, *pod.AutomountServiceAccountToken)
	}
	rule := job.Spec.PodFailurePolicy.Rules[0]
	if rule.Action != batchv1.PodFailurePolicyActionFailJob || rule.OnExitCodes.Values[0] != runspec.ExitBadInput || *rule.OnExitCodes.ContainerName != trainerContainer {
		t.Errorf("first podFailurePolicy rule: %+v", rule)
	}
	// pvc:// URIs become mounts; the output claim is writable, the dataset claim read-only.
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.ReadOnly
	}
	if ro, ok := mounts["/mnt/pvc/datasets"]; !ok || !ro {
		t.Errorf("dataset claim mount: present %v, read-only %v", ok, ro)
	}
	if ro, ok := mounts["/mnt/pvc/models"]; !ok || ro {
		t.Errorf("model/output claim mount: present %v, read-only %v", ok, ro)
	}
	spec := objs.configMap.Data[specKey]
	for _, want := range []string{`"uri": "file:///mnt/pvc/datasets/ml-20m"`, `"outputURI": "file:///mnt/pvc/models/runs/ctr-low/` + objs.hash + `"`} {
		if !strings.Contains(spec, want) {
			t.Errorf("run spec lacks %s:\n%s", want, spec)
		}
	}
}

func TestJobNamesAreDeterministicAndShort(t *testing.T) {
	opts := Options{TrainerImage: "img", Pools: DefaultPoolMap()}
	r := testRun(v1.Placement{})
	a, _ := buildRun(r, opts)
	b, _ := buildRun(r, opts)
	if a.job.Name != b.job.Name {
		t.Fatalf("same run, different names: %s, %s", a.job.Name, b.job.Name)
	}
	r.suspend = true
	if s, _ := buildRun(r, opts); s.job.Name != a.job.Name {
		t.Errorf("suspend changed the run's name: %s vs %s", s.job.Name, a.job.Name)
	}
	r.suspend = false
	r.spec.Optimization.LearningRate = 0.1
	if c, _ := buildRun(r, opts); c.job.Name == a.job.Name {
		t.Errorf("a changed spec kept the name %s", c.job.Name)
	}
	if r.spec.GlobalModel.URI != "pvc://models/wd/model.lcft" {
		t.Errorf("buildRun rewrote the caller's spec: %s", r.spec.GlobalModel.URI)
	}
	long := childName(strings.Repeat("a", 80), "pretrain", "0123456789")
	if len(long) > 63 {
		t.Errorf("name %q is %d characters", long, len(long))
	}
}

func TestJoinURIKeepsTheQuery(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"s3://b/runs", "s3://b/runs/ns/kind/name"},
		{"s3://b/runs/", "s3://b/runs/ns/kind/name"},
		{"s3://b?endpoint=http://10.0.0.5:8333&use_path_style=true", "s3://b/ns/kind/name?endpoint=http://10.0.0.5:8333&use_path_style=true"},
		{"s3://b/runs/?region=eu-west-1", "s3://b/runs/ns/kind/name?region=eu-west-1"},
		{"pvc://claim/out", "pvc://claim/out/ns/kind/name"},
	} {
		if got := joinURI(tc.dir, "ns", "kind", "name"); got != tc.want {
			t.Errorf("joinURI(%q) = %q, want %q", tc.dir, got, tc.want)
		}
	}
	if got := runOutputURI("s3://b/x?region=r", "abc"); got != "s3://b/x/abc?region=r" {
		t.Errorf("runOutputURI = %q", got)
	}
}

package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

// writeLog records the writes a client made, as "verb Kind".
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) add(verb string, obj any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kind := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1."), "ApplyConfiguration")
	l.writes = append(l.writes, verb+" "+kind)
}

func (l *writeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.writes
	l.writes = nil
	return w
}

// fakeRunClient is a fake API server that keeps managed fields as the real
// one does (a create by FieldOwner is an Update entry, an apply an Apply
// entry), with the controller-UID index of the manager's cache; the
// returned log records its writes.
func fakeRunClient(t *testing.T, objs ...client.Object) (client.WithWatch, *writeLog) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	log := &writeLog{}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithReturnManagedFields().
		WithIndex(&batchv1.Job{}, controllerUIDIndex, controllerUID).
		WithIndex(&corev1.ConfigMap{}, controllerUIDIndex, controllerUID).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				log.add("create", obj)
				return c.Create(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				log.add("patch", obj)
				return c.Patch(ctx, obj, patch, opts...)
			},
			Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
				log.add("apply", obj)
				return c.Apply(ctx, obj, opts...)
			},
		}).Build()
	return c, log
}

// fakeRunner is a runner whose cache and API reader are fakeRunClient.
func fakeRunner(t *testing.T) (runner, client.Client, *writeLog) {
	t.Helper()
	c, log := fakeRunClient(t)
	return runner{Client: c, apiReader: c, opts: Options{TrainerImage: "img", Pools: DefaultPoolMap()}}, c, log
}

// fieldManagers lists obj's managed-fields entries as "manager operation".
func fieldManagers(obj metav1.Object) []string {
	var out []string
	for _, m := range obj.GetManagedFields() {
		out = append(out, m.Manager+" "+string(m.Operation))
	}
	return out
}

// A new run's ConfigMap and Job are two plain creates by the operator's
// field manager; ensuring the same run again writes nothing.
func TestEnsureCreatesANewRun(t *testing.T) {
	ctx := context.Background()
	k, c, log := fakeRunner(t)
	r := testRun(v1.Placement{Pool: v1.PoolAny})
	r.owner.SetName("create-new")

	res, err := k.ensure(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !res.created || res.recreated || res.job == nil || res.job.ResourceVersion == "" {
		t.Fatalf("ensure = %+v, want the created Job as the API server has it", res)
	}
	if diff := cmp.Diff([]string{"create ConfigMap", "create Job"}, log.take()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	var job batchv1.Job
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKeyFromObject(res.job), &job); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(res.job), &cm); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []metav1.Object{&job, &cm} {
		if diff := cmp.Diff([]string{FieldOwner + " Update"}, fieldManagers(obj)); diff != "" {
			t.Errorf("%s's field managers (-want +got):\n%s", obj.GetName(), diff)
		}
	}

	again, err := k.ensure(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	wantKept(t, again, job.Name, log, nil)
}

// wantKept checks that ensure kept the live Job name, not created, with
// the writes want.
func wantKept(t *testing.T, res ensured, name string, log *writeLog, want []string) {
	t.Helper()
	if res.created || res.job == nil || res.job.Name != name {
		t.Errorf("ensure = %+v, want the live Job %s, not created", res, name)
	}
	if diff := cmp.Diff(want, log.take()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

// A live Job that the operator created follows a mutable field that the
// spec no longer sets: the first apply takes over the fields of the create
// (an Update entry, which would keep the field), and removes it.
func TestLiveJobDropsAFieldTheSpecNoLongerSets(t *testing.T) {
	ctx := context.Background()
	k, c, log := fakeRunner(t)
	r := testRun(v1.Placement{Pool: v1.PoolAny})
	r.owner.SetName("create-drop")
	r.policy.ActiveDeadlineSeconds = ptr.To[int64](3600)
	first, err := k.ensure(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	log.take()

	r.policy.ActiveDeadlineSeconds = nil
	res, err := k.ensure(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	wantKept(t, res, first.job.Name, log, []string{"patch Job", "apply Job"})
	var job batchv1.Job
	if err := c.Get(ctx, client.ObjectKeyFromObject(first.job), &job); err != nil {
		t.Fatal(err)
	}
	if job.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("activeDeadlineSeconds = %d, want it gone", *job.Spec.ActiveDeadlineSeconds)
	}
	if diff := cmp.Diff([]string{FieldOwner + " Apply"}, fieldManagers(&job)); diff != "" {
		t.Errorf("field managers (-want +got):\n%s", diff)
	}

	// Set again: one apply, no more patch of the managed fields.
	r.policy.ActiveDeadlineSeconds = ptr.To[int64](60)
	res, err = k.ensure(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	wantKept(t, res, first.job.Name, log, []string{"apply Job"})
	if err := c.Get(ctx, client.ObjectKeyFromObject(first.job), &job); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0); got != 60 {
		t.Errorf("activeDeadlineSeconds = %d, want 60", got)
	}
}

// The create of a Job the cache does not hold yet finds it on the API
// server: the run's own Job is kept (not counted as created), another's is
// an error.
func TestEnsureCreateFindsAJobTheCacheLacks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ownerUID string // of the existing Job's controller
		wantErr  string
	}{
		{"the run's own Job", "uid-1", ""},
		{"a Job another object controls", "uid-other", "does not control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			opts := Options{TrainerImage: "img", Pools: DefaultPoolMap()}
			r := testRun(v1.Placement{Pool: v1.PoolAny})
			r.owner.SetName("create-lag-" + tc.ownerUID)
			objs, err := buildRun(r, opts)
			if err != nil {
				t.Fatal(err)
			}
			owner := r.owner.DeepCopyObject().(client.Object)
			owner.SetUID(types.UID(tc.ownerUID))
			server, log := fakeRunClient(t)
			k := runner{Client: server, opts: opts}
			if err := k.own(owner, objs); err != nil {
				t.Fatal(err)
			}
			if err := server.Create(ctx, objs.job); err != nil {
				t.Fatal(err)
			}
			log.take()
			// The cache has no Job yet; the API server has it.
			cache := interceptor.NewClient(server, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if _, ok := obj.(*batchv1.Job); ok {
						return apierrors.NewNotFound(batchv1.Resource("jobs"), key.Name)
					}
					return c.Get(ctx, key, obj, opts...)
				},
			})
			k = runner{Client: cache, apiReader: server, opts: opts}
			res, err := k.ensure(ctx, r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ensure = %+v, %v; want an error with %q", res, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantKept(t, res, objs.job.Name, log, []string{"create ConfigMap", "create Job"})
		})
	}
}

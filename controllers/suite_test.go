package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	finetunev1alpha1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
	"github.com/lcft-dev/lcft-operator/internal/testassets"
)

// The controller tests run the real reconcilers against a real kube-apiserver
// and etcd (envtest). envtest has no Job controller and no kubelet, so the
// fakeCluster of cluster_test.go plays them: it runs the real trainer for
// each shard of each Job the operator creates and writes the pods and Job
// status a cluster would write.

var (
	restConfig   *rest.Config
	testScheme   = runtime.NewScheme()
	k8sClient    client.Client
	artifactRoot string
	// envErr says why envtest did not start; needEnv fails (or, under
	// -short, skips) the envtest tests with it.
	envErr error
)

func TestMain(m *testing.M) {
	if _, envErr = testassets.EnvtestDir(); envErr != nil {
		// The unit tests, which need no API server, still run.
		os.Exit(m.Run())
	}
	// The manager logs to stderr at zapLevel and, at every level, into
	// managerLog while a test captures it.
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel()), zap.RawZapOpts(uberzap.WrapCore(func(c zapcore.Core) zapcore.Core {
		capture := zapcore.NewCore(zapcore.NewJSONEncoder(uberzap.NewDevelopmentEncoderConfig()), zapcore.AddSync(managerLog),
			uberzap.LevelEnablerFunc(func(zapcore.Level) bool { return managerLog.capturing() }))
		return zapcore.NewTee(c, capture)
	}))))
	_ = clientgoscheme.AddToScheme(testScheme)
	_ = finetunev1alpha1.AddToScheme(testScheme)
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	restConfig, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		os.Exit(1)
	}
	k8sClient, err = client.New(restConfig, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	artifactRoot, err = os.MkdirTemp("", "lcft-artifacts-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	_ = os.RemoveAll(artifactRoot)
	os.Exit(code)
}

// managerLog holds what the manager logged, at every verbosity, while a test
// captures it (the credentials test searches it).
var managerLog = &logCapture{}

type logCapture struct {
	mu  sync.Mutex
	on  bool
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.buf.Write(p)
	}
	return len(p), nil
}

func (l *logCapture) capturing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on
}

// String is what was captured so far.
func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// capture starts capturing; the returned func stops and returns the log.
func (l *logCapture) capture() (stop func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
	l.on = true
	return func() string {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.on = false
		return l.buf.String()
	}
}

// zapLevel keeps the manager quiet (errors only) unless LCFT_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("LCFT_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

func needEnv(t *testing.T) {
	t.Helper()
	if restConfig == nil {
		testassets.Require(t, envErr)
	}
}

// startManager runs the three controllers until the returned stop is called
// (stop waits for the manager to exit, like a manager process that ended).
func startManager(t *testing.T) (stop func()) {
	t.Helper()
	_, stop = startManagerWith(t, nil)
	return stop
}

// startManagerWith is startManager with changes to the operator's options;
// it returns the manager too.
func startManagerWith(t *testing.T, change func(*Options)) (ctrl.Manager, func()) {
	t.Helper()
	return startManagerOn(t, restConfig, CacheOptions(), change)
}

// startManagerOn is startManagerWith as the user of cfg, with cacheOpts.
func startManagerOn(t *testing.T, cfg *rest.Config, cacheOpts cache.Options, change func(*Options)) (ctrl.Manager, func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     testScheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cacheOpts,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}, // one manager per test
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	opts := Options{TrainerImage: "lcft-trainer:test", ArtifactURI: "file://" + artifactRoot, Pools: DefaultPoolMap()}
	if change != nil {
		change(&opts)
	}
	if err := SetupWithManager(mgr, opts); err != nil {
		t.Fatalf("setting up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return mgr, stop
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lcft-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// eventually polls cond every 100 ms until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	var lastErr error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, err := cond()
		lastErr = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
	}
}

// waitReconciled waits until the running manager has finished a reconcile
// of the object key of kind (the controller's name: finetunecohort,
// globalmodel, correctionpolicy) while log captures the manager's log
// (managerLog.capture): controller-runtime logs "Reconcile successful" at
// V(5) after each reconcile that returned no error, and the capture keeps
// every level.
func waitReconciled(t *testing.T, log func() string, kind string, key client.ObjectKey) {
	t.Helper()
	eventually(t, runTimeout, fmt.Sprintf("a reconcile of %s %s", kind, key), func() (bool, error) {
		for _, line := range strings.Split(log(), "\n") {
			var entry struct {
				Msg        string `json:"M"`
				Controller string `json:"controller"`
				Namespace  string `json:"namespace"`
				Name       string `json:"name"`
			}
			if json.Unmarshal([]byte(line), &entry) != nil {
				continue
			}
			// Both say the reconcile returned without error; a running run
			// is looked at again later (progress, scheduling).
			done := entry.Msg == "Reconcile successful" || strings.HasPrefix(entry.Msg, "Reconcile done, requeueing")
			if done && entry.Controller == kind && entry.Namespace == key.Namespace && entry.Name == key.Name {
				return true, nil
			}
		}
		return false, nil
	})
}

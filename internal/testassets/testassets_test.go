package testassets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of
// stopping the goroutine.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestEnvtestDir(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	if _, err := EnvtestDir(); err == nil || !strings.Contains(err.Error(), "KUBEBUILDER_ASSETS is unset") || !strings.Contains(err.Error(), "make test") {
		t.Errorf("unset: want an error naming KUBEBUILDER_ASSETS and make test, got %v", err)
	}

	dir := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", dir)
	if err := os.WriteFile(filepath.Join(dir, "kube-apiserver"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := EnvtestDir()
	if err == nil || !strings.Contains(err.Error(), "etcd is not an executable file") || strings.Contains(err.Error(), "kube-apiserver is not") {
		t.Errorf("etcd not executable: want an error naming etcd alone, got %v", err)
	}

	if err := os.Chmod(filepath.Join(dir, "etcd"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := EnvtestDir()
	if err != nil || got != dir {
		t.Errorf("complete assets: got %q, %v; want %q", got, err, dir)
	}
}

func TestHelmPath(t *testing.T) {
	root := t.TempDir()
	t.Setenv("HELM", "")
	if _, err := HelmPath(root); err == nil || !strings.Contains(err.Error(), "make helm") {
		t.Errorf("unset: want an error naming make helm, got %v", err)
	}
	t.Setenv("HELM", "bin/helm-v0")
	if _, err := HelmPath(root); err == nil || !strings.Contains(err.Error(), "HELM=bin/helm-v0") {
		t.Errorf("missing file: want an error naming HELM=bin/helm-v0, got %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	helm := filepath.Join(root, "bin", "helm-v0")
	if err := os.WriteFile(helm, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := HelmPath(root); err != nil || got != helm {
		t.Errorf("relative to the root: got %q, %v; want %q", got, err, helm)
	}
}

func TestRequireFailsUnlessShort(t *testing.T) {
	r := &recorder{TB: t}
	Require(r, nil)
	if r.fatal != "" || r.skip != "" {
		t.Fatalf("no error must neither fail nor skip: %+v", r)
	}
	Require(r, fmt.Errorf("helm is missing"))
	if testing.Short() {
		if r.skip == "" || r.fatal != "" {
			t.Errorf("under -short a missing tool skips: %+v", r)
		}
		return
	}
	if !strings.Contains(r.fatal, "helm is missing") || r.skip != "" {
		t.Errorf("without -short a missing tool fails the test: %+v", r)
	}
}

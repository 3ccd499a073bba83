// Package testassets finds the programs that the envtest, Helm and kubectl
// tests need: kube-apiserver and etcd ($KUBEBUILDER_ASSETS), helm ($HELM)
// and kubectl. A test without them cannot pass by skipping: it fails,
// naming the missing program and the make target that provides it, unless
// it runs under `go test -short`, where it skips.
package testassets

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Require stops tb when err (from one of the lookups below) is set: a skip
// under -short, a failure otherwise.
func Require(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if testing.Short() {
		tb.Skipf("-short: %v", err)
		return
	}
	tb.Fatalf("%v (under `go test -short` this test skips instead)", err)
}

// EnvtestDir is $KUBEBUILDER_ASSETS, checked to hold kube-apiserver and etcd.
func EnvtestDir() (string, error) {
	const how = "run `make test` (it builds them and sets KUBEBUILDER_ASSETS), or `make envtest-assets` and export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh)\""
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return "", fmt.Errorf("the envtest assets (kube-apiserver, etcd) are missing: KUBEBUILDER_ASSETS is unset; %s", how)
	}
	var errs []error
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if err := executable(filepath.Join(dir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("the envtest assets are missing from KUBEBUILDER_ASSETS=%s: %w; %s", dir, err, how)
	}
	return dir, nil
}

// Envtest is EnvtestDir, stopping tb (Require) when the assets are missing.
func Envtest(tb testing.TB) string {
	tb.Helper()
	dir, err := EnvtestDir()
	Require(tb, err)
	return dir
}

// HelmPath is $HELM: absolute, a name on $PATH, or relative to root (the
// repository root; make test sets HELM=bin/helm-<version>).
func HelmPath(root string) (string, error) {
	const how = "run `make test` (it sets HELM), or `make helm` and export HELM=$(ls bin/helm-v*)"
	h := os.Getenv("HELM")
	if h == "" {
		return "", fmt.Errorf("helm is missing: HELM is unset; %s", how)
	}
	if !filepath.IsAbs(h) && filepath.Base(h) != h {
		h = filepath.Join(root, h)
	}
	path, err := exec.LookPath(h)
	if err != nil {
		return "", fmt.Errorf("helm is missing: HELM=%s: %w; %s", os.Getenv("HELM"), err, how)
	}
	return path, nil
}

// Helm is HelmPath, stopping tb (Require) when helm is missing.
func Helm(tb testing.TB, root string) string {
	tb.Helper()
	path, err := HelmPath(root)
	Require(tb, err)
	return path
}

// KubectlPath is kubectl from $KUBEBUILDER_ASSETS (where envtest looks
// for it) or $PATH.
func KubectlPath() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if p := filepath.Join(dir, "kubectl"); executable(p) == nil {
			return p, nil
		}
	}
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("kubectl is missing from KUBEBUILDER_ASSETS and PATH: %w; install kubectl (`make e2e` and `make demo` need it too)", err)
	}
	return path, nil
}

// Kubectl is KubectlPath, stopping tb (Require) when kubectl is missing.
func Kubectl(tb testing.TB) string {
	tb.Helper()
	path, err := KubectlPath()
	Require(tb, err)
	return path
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	v1 "github.com/lcft-dev/lcft-operator/api/v1alpha1"
)

func TestLoadPoolMap(t *testing.T) {
	got, err := LoadPoolMap("arm64=node.example.com/pool=graviton", "")
	if err != nil {
		t.Fatal(err)
	}
	want := PoolMap{v1.PoolARM64: {"node.example.com/pool": "graviton"}, v1.PoolAMD64: {ArchLabel: "amd64"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pool map (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"arm64", "riscv=a=b", "arm64=bad key!=x"} {
		if _, err := LoadPoolMap(bad, ""); err == nil {
			t.Errorf("--pool-map %q was accepted", bad)
		}
	}
}

package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func roundTrip(t *testing.T, uri string) {
	t.Helper()
	ctx := context.Background()
	if ok, err := Exists(ctx, uri); err != nil || ok {
		t.Fatalf("Exists(%s) before writing = %v, %v; want false, nil", uri, ok, err)
	}
	if err := WriteAll(ctx, uri, []byte("hello")); err != nil {
		t.Fatalf("WriteAll(%s): %v", uri, err)
	}
	if ok, err := Exists(ctx, uri); err != nil || !ok {
		t.Fatalf("Exists(%s) after writing = %v, %v; want true, nil", uri, ok, err)
	}
	got, err := ReadAll(ctx, uri)
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadAll(%s) = %q, %v; want hello", uri, got, err)
	}
	// Overwrite, then abort a third write: the second content stays.
	if err := WriteAll(ctx, uri, []byte("world")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = Write(ctx, uri, func(w io.Writer) error {
		if _, err := w.Write([]byte("partial")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), uri) {
		t.Fatalf("aborted Write error = %v; want boom naming %s", err, uri)
	}
	got, err = ReadAll(ctx, uri)
	if err != nil || string(got) != "world" {
		t.Fatalf("after aborted write, ReadAll = %q, %v; want world", got, err)
	}
}

func TestFileURIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	uri := "file://" + filepath.ToSlash(dir) + "/sub/dir/obj.json"
	roundTrip(t, uri)
	// The object is a plain file where the path says, without sidecar files
	// or leftover temporaries.
	entries, err := os.ReadDir(filepath.Join(dir, "sub", "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "obj.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v; want only obj.json", names)
	}
}

func TestPlainPathRoundTrip(t *testing.T) {
	dir := t.TempDir()
	roundTrip(t, filepath.Join(dir, "a", "b.txt"))
	// Relative plain paths resolve against the working directory.
	t.Chdir(dir)
	got, err := ReadAll(context.Background(), filepath.Join("a", "b.txt"))
	if err != nil || string(got) != "world" {
		t.Fatalf("relative ReadAll = %q, %v", got, err)
	}
}

func TestMemSharedAcrossCalls(t *testing.T) {
	roundTrip(t, "mem://storage-test/x/y.bin")
	// Same bucket name, another call: same data; another name: not there.
	got, err := ReadAll(context.Background(), "mem://storage-test/x/y.bin")
	if err != nil || string(got) != "world" {
		t.Fatalf("mem read = %q, %v", got, err)
	}
	if ok, _ := Exists(context.Background(), "mem://other-bucket/x/y.bin"); ok {
		t.Fatal("object visible in another mem bucket")
	}
}

func TestMissingObjectErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, uri := range []string{
		filepath.Join(dir, "nope.csv"),
		"file://" + filepath.ToSlash(dir) + "/missing-dir/nope.csv",
		"mem://storage-test/nope",
	} {
		_, err := Open(ctx, uri)
		if err == nil {
			t.Fatalf("Open(%s) succeeded", uri)
		}
		if !strings.Contains(err.Error(), uri) {
			t.Errorf("error %q does not name %s", err, uri)
		}
		if !IsNotFound(err) || !Permanent(err) {
			t.Errorf("Open(%s): IsNotFound=%v Permanent=%v; want both true (%v)", uri, IsNotFound(err), Permanent(err), err)
		}
		if ok, err := Exists(ctx, uri); ok || err != nil {
			t.Errorf("Exists(%s) = %v, %v; want false, nil", uri, ok, err)
		}
	}
}

func TestInvalidURIs(t *testing.T) {
	ctx := context.Background()
	for _, uri := range []string{"", "ftp://host/x", "mem://b/", "s3:///key", "s3://bucket", "file:///tmp/dir/", "file:///tmp/x?bogus=1", "dir/"} {
		_, err := Open(ctx, uri)
		if !errors.Is(err, ErrInvalidURI) || !Permanent(err) {
			t.Errorf("Open(%q) = %v; want ErrInvalidURI", uri, err)
		}
	}
}

func TestJoin(t *testing.T) {
	for _, c := range []struct{ dir, name, want string }{
		{"s3://b/runs?region=eu-west-1", "model.lcft", "s3://b/runs/model.lcft?region=eu-west-1"},
		{"gs://b/runs/", "r.json", "gs://b/runs/r.json"},
		{"mem://x", "a/b", "mem://x/a/b"},
		{"file:///tmp/out", "/m", "file:///tmp/out/m"},
		{"out", "m.lcft", filepath.Join("out", "m.lcft")},
	} {
		if got := Join(c.dir, c.name); got != c.want {
			t.Errorf("Join(%q, %q) = %q; want %q", c.dir, c.name, got, c.want)
		}
	}
}

func TestCloudSchemesParse(t *testing.T) {
	// The drivers are compiled in; parsing splits bucket and key (no network).
	for _, c := range []struct{ uri, bucket, key string }{
		{"s3://bkt/a/b.csv?region=us-east-1", "s3://bkt?region=us-east-1", "a/b.csv"},
		{"gs://bkt/x", "gs://bkt", "x"},
		{"azblob://ctr/k/v", "azblob://ctr", "k/v"},
	} {
		loc, err := parse(c.uri)
		if err != nil || loc.bucketURL != c.bucket || loc.key != c.key {
			t.Errorf("parse(%q) = %+v, %v; want bucket %q key %q", c.uri, loc, err, c.bucket, c.key)
		}
	}
}

package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lcft-dev/lcft-operator/trainer/storage/s3fake"
)

// The fake store lives in package s3fake, which the trainer's collect
// command tests use too.
type fakeS3 = s3fake.Server

const (
	goodKey     = s3fake.GoodKey
	readOnlyKey = s3fake.ReadOnlyKey
	badSigKey   = s3fake.BadSigKey
	flakyKey    = s3fake.FlakyKey
)

func newFakeS3(t *testing.T, buckets ...string) (*fakeS3, *httptest.Server) {
	return s3fake.New(t, buckets...)
}

func s3Env(t *testing.T, key string) { s3fake.Env(t, key) }

// TestS3RoundTripQueryEndpoint runs the real s3blob driver against the fake
// store, with endpoint, path style and region from the URI's query.
func TestS3RoundTripQueryEndpoint(t *testing.T) {
	f, srv := newFakeS3(t, "lcft-data")
	s3Env(t, goodKey)
	uri := "s3://lcft-data/runs/x/model.lcft?endpoint=" + srv.URL + "&use_path_style=true&region=eu-test-1"
	roundTrip(t, uri)
	// Join keeps the query, so objects under a directory URI reach the same store.
	sub := Join("s3://lcft-data/runs?endpoint="+srv.URL+"&use_path_style=true&region=eu-test-1", "y/report.json")
	if err := WriteAll(context.Background(), sub, []byte("{}")); err != nil {
		t.Fatalf("WriteAll(%s): %v", sub, err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	var puts int
	for _, r := range f.Requests() {
		if r.Host != host || !strings.HasPrefix(r.Path, "/lcft-data/runs/") {
			t.Errorf("request %s host %q path %q; want path-style to %s/lcft-data/runs/...", r.Method, r.Host, r.Path, host)
		}
		if r.Region != "eu-test-1" || r.AccessKey != goodKey {
			t.Errorf("request %s %s signed for region %q with key %q; want eu-test-1, %s", r.Method, r.Path, r.Region, r.AccessKey, goodKey)
		}
		if r.Method == http.MethodPut {
			puts++
		}
	}
	if puts < 3 {
		t.Errorf("saw %d PUTs; want at least 3", puts)
	}
	if got, _ := f.Object("lcft-data/runs/y/report.json"); string(got) != "{}" {
		t.Errorf("joined object holds %q; want {}", got)
	}
}

// TestS3EndpointFromEnvironment: a plain s3:// URI reaches the store named
// by AWS_ENDPOINT_URL_S3, signed for AWS_REGION, and path style is the
// default with a custom endpoint (a host name, so the SDK would otherwise
// put the bucket into the host).
func TestS3EndpointFromEnvironment(t *testing.T) {
	f, srv := newFakeS3(t, "lcft-artifacts")
	s3Env(t, goodKey)
	endpoint := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	t.Setenv("AWS_ENDPOINT_URL_S3", endpoint)
	t.Setenv("AWS_REGION", "us-test-2")
	ctx := context.Background()
	uri := "s3://lcft-artifacts/ns/GlobalModel/m/abc/model.lcft"
	if err := WriteAll(ctx, uri, []byte("model")); err != nil {
		t.Fatalf("WriteAll(%s): %v", uri, err)
	}
	got, err := ReadAll(ctx, uri)
	if err != nil || string(got) != "model" {
		t.Fatalf("ReadAll(%s) = %q, %v; want model", uri, got, err)
	}
	for _, r := range f.Requests() {
		if !strings.HasPrefix(r.Path, "/lcft-artifacts/") || strings.HasPrefix(r.Host, "lcft-artifacts.") || r.Region != "us-test-2" {
			t.Errorf("request %s host %q path %q region %q; want path style, region us-test-2", r.Method, r.Host, r.Path, r.Region)
		}
	}
}

// TestS3PermanentErrors: rejected keys, missing buckets and objects, and
// denied writes are permanent (the trainer exits 2 at once), with the
// store's code and message in the error text; an unavailable store is not.
func TestS3PermanentErrors(t *testing.T) {
	f, srv := newFakeS3(t, "lcft-data")
	q := "?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
	obj := "s3://lcft-data/data/samples.csv" + q
	ctx := context.Background()
	s3Env(t, goodKey)
	if err := WriteAll(ctx, obj, []byte("user,item\n")); err != nil {
		t.Fatal(err)
	}
	read := func(uri string) error { _, err := ReadAll(ctx, uri); return err }
	write := func(uri string) error { return WriteAll(ctx, uri, []byte("x")) }
	for _, tc := range []struct {
		name, key string
		op        func(string) error
		uri       string
		permanent bool
		want      []string // substrings of the error text
	}{
		{"unknown key, read", "AKIDNOSUCHKEY", read, obj, true, []string{"InvalidAccessKeyId", "does not exist in our records", "s3://lcft-data/data/samples.csv"}},
		{"unknown key, write", "AKIDNOSUCHKEY", write, "s3://lcft-data/out/m.lcft" + q, true, []string{"InvalidAccessKeyId", "s3://lcft-data/out/m.lcft"}},
		{"wrong secret, read", badSigKey, read, obj, true, []string{"SignatureDoesNotMatch", "does not match the signature"}},
		{"wrong secret, write", badSigKey, write, "s3://lcft-data/out/m.lcft" + q, true, []string{"SignatureDoesNotMatch"}},
		{"read-only key, write", readOnlyKey, write, "s3://lcft-data/out/m.lcft" + q, true, []string{"AccessDenied"}},
		{"missing bucket, read", goodKey, read, "s3://no-such-bucket/data.csv" + q, true, []string{"NoSuchBucket", "bucket does not exist"}},
		{"missing bucket, write", goodKey, write, "s3://no-such-bucket/out/m.lcft" + q, true, []string{"NoSuchBucket"}},
		{"missing key, read", goodKey, read, "s3://lcft-data/data/none.csv" + q, true, []string{"NoSuchKey"}},
		// Retried by the SDK (3 attempts, about 4 s), then left to the Job's retries.
		{"unavailable, read", flakyKey, read, obj, false, []string{"ServiceUnavailable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s3Env(t, tc.key)
			err := tc.op(tc.uri)
			if err == nil {
				t.Fatalf("no error")
			}
			if got := Permanent(err); got != tc.permanent {
				t.Errorf("Permanent = %v; want %v for %v", got, tc.permanent, err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
	// A write that failed left nothing behind.
	if _, ok := f.Object("lcft-data/out/m.lcft"); ok {
		t.Errorf("a rejected write stored lcft-data/out/m.lcft")
	}
	// Exists of a missing object (HEAD, 404 without a body) is false, not an error.
	s3Env(t, goodKey)
	if ok, err := Exists(ctx, "s3://lcft-data/data/none.csv"+q); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v; want false, nil", ok, err)
	}
	// A HEAD with a rejected key (403 without a body) is permanent too.
	s3Env(t, "AKIDNOSUCHKEY")
	if _, err := Exists(ctx, obj); err == nil || !Permanent(err) {
		t.Errorf("Exists with an unknown key: %v (permanent %v); want a permanent error", err, Permanent(err))
	}
}

func TestS3PathStyleDefault(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	for _, tc := range []struct{ uri, want string }{
		// AWS itself: virtual-hosted style, as the SDK chooses.
		{"s3://b/k?region=eu-west-1", "s3://b?region=eu-west-1"},
		// A custom endpoint: path style unless the URI says otherwise.
		{"s3://b/k?endpoint=http://h:8333", "s3://b?endpoint=http%3A%2F%2Fh%3A8333&use_path_style=true"},
		{"s3://b/k?endpoint=http://h:8333&use_path_style=false", "s3://b?endpoint=http://h:8333&use_path_style=false"},
		{"s3://b/k?endpoint=http://h:8333&s3ForcePathStyle=true", "s3://b?endpoint=http://h:8333&s3ForcePathStyle=true"},
		// Other schemes are left alone.
		{"gs://b/k", "gs://b"},
	} {
		loc, err := parse(tc.uri)
		if err != nil {
			t.Fatalf("parse(%s): %v", tc.uri, err)
		}
		if got := loc.cloudBucketURL(); got != tc.want {
			t.Errorf("%s: bucket URL %s; want %s", tc.uri, got, tc.want)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://h:8333")
	loc, _ := parse("s3://b/k")
	if got, want := loc.cloudBucketURL(), "s3://b?use_path_style=true"; got != want {
		t.Errorf("with AWS_ENDPOINT_URL_S3: bucket URL %s; want %s", got, want)
	}
}

func TestPermanentAPICodes(t *testing.T) {
	for code, want := range map[string]bool{"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "NoSuchBucket": true, "SlowDown": false, "InternalError": false} {
		err := fmt.Errorf("opening s3://b/k: %w", &fakeAPIError{code: code})
		if got := Permanent(err); got != want {
			t.Errorf("Permanent(%s) = %v; want %v", code, got, want)
		}
	}
	if Permanent(errors.New("connection refused")) {
		t.Errorf("a plain error is permanent")
	}
}

type fakeAPIError struct{ code string }

func (e *fakeAPIError) Error() string     { return "api error " + e.code }
func (e *fakeAPIError) ErrorCode() string { return e.code }

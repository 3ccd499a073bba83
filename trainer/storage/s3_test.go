package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeS3 speaks enough of the S3 REST API (path-style addressing only) for
// gocloud's s3blob driver: PUT, GET and HEAD of objects, and S3's XML
// errors. The access key of a request picks its fate, so the tests can
// exercise each rejection without real signature checks (hack/seaweedfs/test.sh
// runs the same driver against a real SeaweedFS gateway).
type fakeS3 struct {
	t       *testing.T
	buckets map[string]bool

	mu      sync.Mutex
	objects map[string][]byte // "bucket/key"
	log     []fakeRequest
}

type fakeRequest struct {
	method, host, path, accessKey, region string
}

// Access keys the fake store knows.
const (
	goodKey     = "AKIDGOOD"         // may do everything
	readOnlyKey = "AKIDREADONLY"     // may read, not write
	badSigKey   = "AKIDBADSIGNATURE" // a known key whose secret the client got wrong
	flakyKey    = "AKIDFLAKY"        // the store is unavailable
)

func newFakeS3(t *testing.T, buckets ...string) (*fakeS3, *httptest.Server) {
	f := &fakeS3{t: t, buckets: map[string]bool{}, objects: map[string][]byte{}}
	for _, b := range buckets {
		f.buckets[b] = true
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// s3Env isolates the AWS SDK from the machine's configuration and gives it
// the access key key.
func s3Env(t *testing.T, key string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-of-"+key)
}

type s3Error struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	RequestID  string   `xml:"RequestId"`
}

func (f *fakeS3) fail(w http.ResponseWriter, r *http.Request, status int, code, msg, bucket, key string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "fake-request")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return // HEAD responses carry no body
	}
	body, _ := xml.Marshal(s3Error{Code: code, Message: msg, BucketName: bucket, Key: key, RequestID: "fake-request"})
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

// credential returns the access key and region of a SigV4 Authorization
// header: "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, ...".
func credential(auth string) (key, region string) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	rest, _, _ = strings.Cut(rest, ",")
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return parts[0], ""
	}
	return parts[0], parts[2]
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, region := credential(r.Header.Get("Authorization"))
	bucket, objKey, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	f.log = append(f.log, fakeRequest{method: r.Method, host: r.Host, path: r.URL.Path, accessKey: key, region: region})
	f.mu.Unlock()

	switch key {
	case "":
		f.fail(w, r, http.StatusForbidden, "AccessDenied", "Anonymous access is forbidden", bucket, objKey)
		return
	case goodKey, readOnlyKey:
	case badSigKey:
		f.fail(w, r, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", bucket, objKey)
		return
	case flakyKey:
		f.fail(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate.", bucket, objKey)
		return
	default:
		f.fail(w, r, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", bucket, objKey)
		return
	}
	if !f.buckets[bucket] {
		f.fail(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", bucket, "")
		return
	}
	if objKey == "" {
		f.fail(w, r, http.StatusNotImplemented, "NotImplemented", "bucket operations are not implemented by the fake", bucket, "")
		return
	}
	name := bucket + "/" + objKey
	switch r.Method {
	case http.MethodPut:
		if key == readOnlyKey {
			f.fail(w, r, http.StatusForbidden, "AccessDenied", "Access Denied", bucket, objKey)
			return
		}
		body, err := readPayload(r)
		if err != nil {
			return // the client went away: store nothing
		}
		f.mu.Lock()
		f.objects[name] = body
		f.mu.Unlock()
		w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprintf("%x", len(body))))
		w.WriteHeader(http.StatusOK)
	case http.MethodGet, http.MethodHead:
		f.mu.Lock()
		body, ok := f.objects[name]
		f.mu.Unlock()
		if !ok {
			f.fail(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", bucket, objKey)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Last-Modified", time.Unix(1_700_000_000, 0).UTC().Format(http.TimeFormat))
		w.Header().Set("ETag", fmt.Sprintf("%q", fmt.Sprintf("%x", len(body))))
		if r.Header.Get("X-Amz-Checksum-Mode") == "ENABLED" {
			sum := crc32.ChecksumIEEE(body)
			w.Header().Set("X-Amz-Checksum-Crc32", base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}))
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	default:
		f.fail(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket, objKey)
	}
}

// readPayload reads a PUT body, decoding the aws-chunked encoding the SDK
// uses to send trailing checksums.
func readPayload(r *http.Request) ([]byte, error) {
	if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") && r.Header.Get("X-Amz-Decoded-Content-Length") == "" {
		return io.ReadAll(r.Body)
	}
	br := bufio.NewReader(r.Body)
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("aws-chunked size %q: %w", line, err)
		}
		if n == 0 {
			_, _ = io.Copy(io.Discard, br) // trailers
			return out.Bytes(), nil
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, err
		}
		if _, err := br.ReadString('\n'); err != nil { // CRLF after the chunk
			return nil, err
		}
	}
}

func (f *fakeS3) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.log...)
}

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
	for _, r := range f.requests() {
		if r.host != host || !strings.HasPrefix(r.path, "/lcft-data/runs/") {
			t.Errorf("request %s host %q path %q; want path-style to %s/lcft-data/runs/...", r.method, r.host, r.path, host)
		}
		if r.region != "eu-test-1" || r.accessKey != goodKey {
			t.Errorf("request %s %s signed for region %q with key %q; want eu-test-1, %s", r.method, r.path, r.region, r.accessKey, goodKey)
		}
		if r.method == http.MethodPut {
			puts++
		}
	}
	if puts < 3 {
		t.Errorf("saw %d PUTs; want at least 3", puts)
	}
	if got := string(f.objects["lcft-data/runs/y/report.json"]); got != "{}" {
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
	for _, r := range f.requests() {
		if !strings.HasPrefix(r.path, "/lcft-artifacts/") || strings.HasPrefix(r.host, "lcft-artifacts.") || r.region != "us-test-2" {
			t.Errorf("request %s host %q path %q region %q; want path style, region us-test-2", r.method, r.host, r.path, r.region)
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
	if _, ok := f.objects["lcft-data/out/m.lcft"]; ok {
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

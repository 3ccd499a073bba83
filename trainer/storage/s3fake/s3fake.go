// Package s3fake is an in-process fake of the S3 REST API for tests: the
// storage package's tests and the trainer's collect command run the real
// s3blob driver against it.
package s3fake

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
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

// Server speaks enough of the S3 REST API (path-style addressing only) for
// gocloud's s3blob driver: PUT, GET and HEAD of objects, and S3's XML
// errors. The access key of a request picks its fate, so the tests can
// exercise each rejection without real signature checks (hack/seaweedfs/test.sh
// runs the same driver against a real SeaweedFS gateway).
type Server struct {
	buckets map[string]bool

	mu      sync.Mutex
	objects map[string][]byte // "bucket/key"
	log     []Request
}

// Request is what the store saw of one request.
type Request struct {
	Method, Host, Path, AccessKey, Region string
}

// Access keys the fake store knows.
const (
	GoodKey     = "AKIDGOOD"         // may do everything
	ReadOnlyKey = "AKIDREADONLY"     // may read, not write
	BadSigKey   = "AKIDBADSIGNATURE" // a known key whose secret the client got wrong
	FlakyKey    = "AKIDFLAKY"        // the store is unavailable
)

// New starts a fake store with the given buckets, stopped at the test's end.
func New(t testing.TB, buckets ...string) (*Server, *httptest.Server) {
	f := &Server{buckets: map[string]bool{}, objects: map[string][]byte{}}
	for _, b := range buckets {
		f.buckets[b] = true
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// Env isolates the AWS SDK from the machine's configuration and gives it
// the access key key.
func Env(t testing.TB, key string) {
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

func (f *Server) fail(w http.ResponseWriter, r *http.Request, status int, code, msg, bucket, key string) {
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

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, region := credential(r.Header.Get("Authorization"))
	bucket, objKey, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	f.log = append(f.log, Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, AccessKey: key, Region: region})
	f.mu.Unlock()

	switch key {
	case "":
		f.fail(w, r, http.StatusForbidden, "AccessDenied", "Anonymous access is forbidden", bucket, objKey)
		return
	case GoodKey, ReadOnlyKey:
	case BadSigKey:
		f.fail(w, r, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", bucket, objKey)
		return
	case FlakyKey:
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
		if key == ReadOnlyKey {
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

// Requests are the requests the store received, in order.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.log...)
}

// Object returns the object stored under "bucket/key".
func (f *Server) Object(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[name]
	return b, ok
}

// Put stores an object under "bucket/key", as a PUT would.
func (f *Server) Put(name string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[name] = append([]byte(nil), body...)
}

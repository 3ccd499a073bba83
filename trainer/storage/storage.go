// Package storage opens the trainer's inputs and outputs by URI through
// gocloud.dev/blob, so one code path serves a laptop, a PVC mounted into a
// pod and an object store.
//
// An object URI names one blob:
//
//   - a plain path ("data/ratings.csv", "/mnt/pvc/x/model.lcft"): a local
//     file, relative paths against the working directory;
//   - file:///abs/path/name (file://./rel/name for a relative path): a local
//     file through gocloud's fileblob;
//   - mem://BUCKET/key: an in-memory bucket shared by the whole process (the
//     same BUCKET name is the same bucket in every call), for tests and for
//     in-process runs that write then read;
//   - s3://BUCKET/key, gs://BUCKET/key, azblob://CONTAINER/key: object
//     stores, with gocloud's URL query parameters and the usual environment
//     credentials (see "S3 and S3-compatible stores" below).
//
// Local files are written without gocloud's ".attrs" sidecar files and
// through a temporary file next to the target (renamed on Close), so a
// reader never sees a half-written artifact and a read-only root
// filesystem (Pod Security "restricted") is no obstacle. Directories are
// created as needed.
//
// Every error names the URI. Permanent reports whether an error will
// happen again on retry (missing object, access denied, malformed URI), so
// callers can tell bad input from transient failures.
//
// # S3 and S3-compatible stores
//
// s3:// URIs go through gocloud's s3blob driver (AWS SDK v2). Credentials
// come from the environment as the SDK reads them: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (in a pod: envFrom a Secret), a shared config
// file, or a workload identity. The store is chosen by the URI's query
// (these are gocloud.dev v0.47's s3blob parameters) or, without one, by the
// SDK's environment:
//
//   - endpoint=http://10.0.0.5:8333: the store's URL (SeaweedFS, MinIO,
//     Ceph ...); without it, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else
//     AWS itself;
//   - region=us-east-1: the signing region; without it, AWS_REGION;
//   - use_path_style=true: address buckets as http://host/BUCKET/key rather
//     than http://BUCKET.host/key. When an endpoint is set (in the query or
//     the environment) and the URI does not say, this package sets
//     use_path_style=true: S3-compatible stores generally serve only path
//     style, and an IP address endpoint cannot carry a bucket subdomain.
//     Set use_path_style=false to turn it off;
//   - disable_https=true, hostname_immutable=true, anonymous=true,
//     profile=NAME, request_checksum_calculation=when_required (for stores
//     that reject the SDK's default CRC32 checksums), ssetype, kmskeyid,
//     and the rest of gocloud.dev/aws.V2ConfigFromURLParams.
//
// For example, s3://lcft-data/ratings.csv?endpoint=http://10.0.0.5:8333&region=us-east-1
// reads from a SeaweedFS gateway; with AWS_ENDPOINT_URL_S3=http://10.0.0.5:8333
// and AWS_REGION=us-east-1 in the environment, s3://lcft-data/ratings.csv
// does the same. The query travels with a URI through Join, so a directory
// URI with a query hands it on to the objects under it.
//
// Rejected credentials (InvalidAccessKeyId, SignatureDoesNotMatch,
// AccessDenied), a missing bucket or key (NoSuchBucket, NoSuchKey) and a
// wrong region or endpoint (AuthorizationHeaderMalformed, PermanentRedirect)
// are permanent; the error text carries the store's code and message.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URIs
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// URIs
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob" // s3:// URIs
	"gocloud.dev/gcerrors"
)

// ErrInvalidURI is wrapped by every error about a URI that cannot name a
// blob (unparseable, unsupported scheme, no key).
var ErrInvalidURI = errors.New("invalid storage URI")

// cloudSchemes are the object-store schemes compiled in (blank imports above).
var cloudSchemes = map[string]bool{"s3": true, "gs": true, "azblob": true}

// location is a parsed object URI: how to open its bucket and its key there.
type location struct {
	uri    string // as given, for messages
	scheme string // "" for a plain path
	// For plain paths and file://: the directory holding the object and the
	// query parameters to pass to fileblob.
	dir   string
	query url.Values
	host  string // file:// host ("" or "." for relative); mem:// bucket name
	// For object stores: the bucket URL without the key.
	bucketURL string
	key       string
}

// parse splits an object URI into bucket and key.
func parse(uri string) (*location, error) {
	if uri == "" {
		return nil, fmt.Errorf("%w: empty URI", ErrInvalidURI)
	}
	_, _, hasScheme := strings.Cut(uri, "://")
	if !hasScheme {
		abs, err := filepath.Abs(uri)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrInvalidURI, uri, err)
		}
		if strings.HasSuffix(uri, "/") || strings.HasSuffix(uri, string(filepath.Separator)) {
			return nil, fmt.Errorf("%w: %q names a directory, not a file", ErrInvalidURI, uri)
		}
		return &location{uri: uri, dir: filepath.Dir(abs), key: filepath.Base(abs)}, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInvalidURI, uri, err)
	}
	loc := &location{uri: uri, scheme: u.Scheme, host: u.Host, query: u.Query()}
	switch {
	case u.Scheme == fileblob.Scheme:
		if u.Path == "" || strings.HasSuffix(u.Path, "/") {
			return nil, fmt.Errorf("%w: %q names no file", ErrInvalidURI, uri)
		}
		if u.Host != "" && u.Host != "." && u.Host != "localhost" {
			return nil, fmt.Errorf("%w: %q: file URIs take no host other than \".\" (relative) or localhost", ErrInvalidURI, uri)
		}
		p := u.Path
		if u.Host == "." {
			p = strings.TrimPrefix(p, "/")
		}
		loc.dir, loc.key = filepath.Dir(filepath.FromSlash(p)), path.Base(p)
	case u.Scheme == memblob.Scheme:
		loc.key = strings.TrimPrefix(u.Path, "/")
		if len(u.Query()) > 0 {
			return nil, fmt.Errorf("%w: %q: mem URIs take no query parameters", ErrInvalidURI, uri)
		}
	case cloudSchemes[u.Scheme]:
		if u.Host == "" {
			return nil, fmt.Errorf("%w: %q names no bucket", ErrInvalidURI, uri)
		}
		loc.key = strings.TrimPrefix(u.Path, "/")
		b := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
		loc.bucketURL = b.String()
	default:
		return nil, fmt.Errorf("%w: %q: unsupported scheme %q (want a path, file, mem, s3, gs or azblob)", ErrInvalidURI, uri, u.Scheme)
	}
	if loc.key == "" || strings.HasSuffix(loc.key, "/") {
		return nil, fmt.Errorf("%w: %q names no object key", ErrInvalidURI, uri)
	}
	return loc, nil
}

// memBuckets are the process-wide in-memory buckets by name. memblob's own
// URL opener makes a new empty bucket on every open, which would make
// mem:// useless for write-then-read.
var memBuckets = struct {
	sync.Mutex
	m map[string]*blob.Bucket
}{m: map[string]*blob.Bucket{}}

func memBucket(name string) *blob.Bucket {
	memBuckets.Lock()
	defer memBuckets.Unlock()
	b, ok := memBuckets.m[name]
	if !ok {
		b = memblob.OpenBucket(nil)
		memBuckets.m[name] = b
	}
	return b
}

// ResetMem drops every mem:// bucket (for tests that want a clean process).
func ResetMem() {
	memBuckets.Lock()
	defer memBuckets.Unlock()
	for _, b := range memBuckets.m {
		_ = b.Close()
	}
	memBuckets.m = map[string]*blob.Bucket{}
}

// open returns the bucket of loc and whether the caller must close it
// (shared mem buckets stay open). forWrite creates missing local
// directories.
func (loc *location) open(ctx context.Context, forWrite bool) (b *blob.Bucket, owned bool, err error) {
	switch loc.scheme {
	case "", fileblob.Scheme:
		u, err := fileBucketURL(loc, forWrite)
		if err != nil {
			return nil, false, err
		}
		b, err := (&fileblob.URLOpener{}).OpenBucketURL(ctx, u)
		if err != nil {
			return nil, false, err
		}
		return b, true, nil
	case memblob.Scheme:
		return memBucket(loc.host), false, nil
	default:
		b, err := blob.OpenBucket(ctx, loc.cloudBucketURL())
		if err != nil {
			return nil, false, err
		}
		return b, true, nil
	}
}

// cloudBucketURL is the bucket URL to open, with this package's defaults
// for s3:// (path-style addressing when a custom endpoint is in use).
func (loc *location) cloudBucketURL() string {
	if loc.scheme != "s3" {
		return loc.bucketURL
	}
	q := loc.query
	if q.Has("use_path_style") || q.Has("s3ForcePathStyle") || !s3CustomEndpoint(q) {
		return loc.bucketURL
	}
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("use_path_style", "true")
	u := url.URL{Scheme: loc.scheme, Host: loc.host, RawQuery: q2.Encode()}
	return u.String()
}

// s3CustomEndpoint reports whether an s3:// bucket with query q talks to a
// store other than AWS's own endpoints: an endpoint in the query, or the
// SDK's endpoint environment variables.
func s3CustomEndpoint(q url.Values) bool {
	if q.Get("endpoint") != "" {
		return true
	}
	return os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
}

// fileParams are the fileblob query parameters a file:// URI may set.
var fileParams = map[string]bool{"create_dir": true, "dir_file_mode": true, "no_tmp_dir": true, "metadata": true}

// fileBucketURL is the fileblob bucket URL of the directory holding loc's
// file, with our defaults for local files: no sidecar metadata files,
// temporary files next to the target (os.TempDir may be read-only or on
// another device than a mounted volume, which breaks the final rename), and
// directories created on write. A file:// URI's own fileblob parameters
// (e.g. dir_file_mode=0750) override the defaults.
func fileBucketURL(loc *location, forWrite bool) (*url.URL, error) {
	q := url.Values{}
	for k, v := range loc.query {
		if !fileParams[k] {
			return nil, fmt.Errorf("%w: %q: unsupported query parameter %q for a file URI", ErrInvalidURI, loc.uri, k)
		}
		q[k] = v
	}
	if !q.Has("metadata") {
		q.Set("metadata", string(fileblob.MetadataDontWrite))
	}
	if !q.Has("no_tmp_dir") {
		q.Set("no_tmp_dir", "1")
	}
	if forWrite && !q.Has("create_dir") {
		q.Set("create_dir", "1")
	}
	// fileblob reads the directory from Path; a relative Path stays
	// relative to the working directory.
	return &url.URL{Scheme: fileblob.Scheme, Path: filepath.ToSlash(loc.dir), RawQuery: q.Encode()}, nil
}

// reader closes the bucket it was opened from when it owns it.
type reader struct {
	*blob.Reader
	bucket *blob.Bucket // nil when shared
	uri    string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading %s: %w", r.uri, err)
	}
	return n, err
}

func (r *reader) Close() error {
	err := r.Reader.Close()
	if r.bucket != nil {
		err = errors.Join(err, r.bucket.Close())
	}
	if err != nil {
		return fmt.Errorf("closing %s: %w", r.uri, err)
	}
	return nil
}

// Open opens the object at uri for reading. The caller must Close it. A
// missing object gives an error for which IsNotFound is true.
func Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	loc, err := parse(uri)
	if err != nil {
		return nil, err
	}
	b, owned, err := loc.open(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", uri, err)
	}
	r, err := b.NewReader(ctx, loc.key, nil)
	if err != nil {
		if owned {
			_ = b.Close()
		}
		return nil, fmt.Errorf("opening %s: %w", uri, err)
	}
	rd := &reader{Reader: r, uri: uri}
	if owned {
		rd.bucket = b
	}
	return rd, nil
}

// ReadAll returns the content of the object at uri.
func ReadAll(ctx context.Context, uri string) ([]byte, error) {
	r, err := Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	cerr := r.Close()
	if err != nil {
		return nil, err // already names the URI
	}
	if cerr != nil {
		return nil, cerr
	}
	return b, nil
}

// Writer writes one object. Nothing is visible at the URI until Close
// succeeds; Abort (or a canceled context) discards what was written.
type Writer struct {
	w      *blob.Writer
	bucket *blob.Bucket // nil when shared
	cancel context.CancelFunc
	uri    string
	done   bool
}

// Write writes p to the object.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", w.uri, err)
	}
	return n, nil
}

// Close commits the object. After Abort it only releases resources.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.w.Close()
	w.cancel()
	if w.bucket != nil {
		err = errors.Join(err, w.bucket.Close())
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", w.uri, err)
	}
	return nil
}

// Abort discards the object being written: the URI keeps its previous
// content (or stays absent).
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel() // a blob.Writer whose context is canceled discards on Close
	_ = w.w.Close()
	if w.bucket != nil {
		_ = w.bucket.Close()
	}
}

// Create opens the object at uri for writing, replacing any previous
// content when Close succeeds. Missing local directories are created.
func Create(ctx context.Context, uri string) (*Writer, error) {
	loc, err := parse(uri)
	if err != nil {
		return nil, err
	}
	b, owned, err := loc.open(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", uri, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := b.NewWriter(wctx, loc.key, nil)
	if err != nil {
		cancel()
		if owned {
			_ = b.Close()
		}
		return nil, fmt.Errorf("creating %s: %w", uri, err)
	}
	out := &Writer{w: w, cancel: cancel, uri: uri}
	if owned {
		out.bucket = b
	}
	return out, nil
}

// Write creates the object at uri with what fn writes. If fn fails, the
// object is not created (or keeps its previous content) and fn's error is
// returned wrapped with the URI.
func Write(ctx context.Context, uri string, fn func(w io.Writer) error) error {
	w, err := Create(ctx, uri)
	if err != nil {
		return err
	}
	if err := fn(w); err != nil {
		w.Abort()
		return fmt.Errorf("writing %s: %w", uri, err)
	}
	return w.Close()
}

// WriteAll creates the object at uri with content p.
func WriteAll(ctx context.Context, uri string, p []byte) error {
	return Write(ctx, uri, func(w io.Writer) error {
		_, err := w.Write(p)
		return err
	})
}

// Exists reports whether the object at uri exists. A missing local
// directory or bucket prefix is "false", not an error.
func Exists(ctx context.Context, uri string) (bool, error) {
	loc, err := parse(uri)
	if err != nil {
		return false, err
	}
	b, owned, err := loc.open(ctx, false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("checking %s: %w", uri, err)
	}
	if owned {
		defer b.Close()
	}
	ok, err := b.Exists(ctx, loc.key)
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", uri, err)
	}
	return ok, nil
}

// Join returns the URI of name inside the directory dirURI, keeping the
// scheme, host and query of dirURI: Join("s3://b/runs?region=x", "m.lcft")
// is "s3://b/runs/m.lcft?region=x"; Join("out", "m.lcft") is "out/m.lcft".
// name may contain '/' to reach into subdirectories.
func Join(dirURI, name string) string {
	name = strings.TrimLeft(name, "/")
	head, query, _ := strings.Cut(dirURI, "?")
	if !strings.Contains(head, "://") {
		return filepath.Join(dirURI, filepath.FromSlash(name))
	}
	if !strings.HasSuffix(head, "/") {
		head += "/"
	}
	if query != "" {
		return head + name + "?" + query
	}
	return head + name
}

// IsNotFound reports whether err says an object (or its directory) does
// not exist.
func IsNotFound(err error) bool {
	return err != nil && (gcerrors.Code(err) == gcerrors.NotFound || errors.Is(err, fs.ErrNotExist))
}

// Permanent reports whether err will recur on retry: a malformed or
// unsupported URI, a missing object, access denied, an invalid argument.
// Network errors, throttling and unknown errors are not permanent.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalidURI) || IsNotFound(err) || errors.Is(err, fs.ErrPermission) {
		return true
	}
	switch gcerrors.Code(err) {
	case gcerrors.PermissionDenied, gcerrors.InvalidArgument, gcerrors.Unimplemented:
		return true
	}
	var ae apiError
	if errors.As(err, &ae) && permanentAPICodes[ae.ErrorCode()] {
		return true
	}
	return false
}

// apiError is what an object store's SDK error reports (the AWS SDK's
// smithy.APIError has this method): the service's error code.
type apiError interface{ ErrorCode() string }

// permanentAPICodes are the S3 error codes that a retry with the same
// credentials and URI cannot fix. gocloud's s3blob maps only some of them
// (AccessDenied, NoSuchBucket, NoSuchKey) to a gcerrors code; rejected keys
// come through as Unknown.
var permanentAPICodes = map[string]bool{
	"InvalidAccessKeyId":           true, // no such access key
	"SignatureDoesNotMatch":        true, // wrong secret key
	"AccessDenied":                 true,
	"AllAccessDisabled":            true,
	"AccountProblem":               true,
	"InvalidBucketName":            true,
	"NoSuchBucket":                 true,
	"NoSuchKey":                    true,
	"AuthorizationHeaderMalformed": true, // wrong region for the bucket
	"PermanentRedirect":            true, // bucket lives at another endpoint
	"InvalidArgument":              true,
}

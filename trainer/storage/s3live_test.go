package storage

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
)

// TestLiveS3 runs against a real S3-compatible store; it is skipped unless
// LCFT_S3_LIVE_ENV names an env file with AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL_S3 (what
// hack/seaweedfs/up.sh writes) whose identity may read and write the bucket
// LCFT_S3_LIVE_BUCKET (default lcft-artifacts). hack/seaweedfs/test.sh starts
// a SeaweedFS gateway and runs it.
func TestLiveS3(t *testing.T) {
	envFile := os.Getenv("LCFT_S3_LIVE_ENV")
	if envFile == "" {
		t.Skip("LCFT_S3_LIVE_ENV is not set (hack/seaweedfs/test.sh runs this test against SeaweedFS)")
	}
	bucket := os.Getenv("LCFT_S3_LIVE_BUCKET")
	if bucket == "" {
		bucket = "lcft-artifacts"
	}
	env := readEnvFile(t, envFile)
	setEnv := func(t *testing.T, key, secret string) {
		s3Env(t, key)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		t.Setenv("AWS_REGION", env["AWS_REGION"])
		t.Setenv("AWS_ENDPOINT_URL_S3", env["AWS_ENDPOINT_URL_S3"])
	}
	ctx := context.Background()
	prefix := "s3://" + bucket + "/live-test/" + strings.ReplaceAll(t.Name(), "/", "-")

	t.Run("round trip, endpoint from the environment", func(t *testing.T) {
		setEnv(t, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
		roundTrip(t, prefix+"/env/obj.json")
	})
	t.Run("round trip, endpoint and region in the URI", func(t *testing.T) {
		setEnv(t, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
		t.Setenv("AWS_ENDPOINT_URL_S3", "")
		t.Setenv("AWS_REGION", "")
		roundTrip(t, prefix+"/query/obj.json?endpoint="+env["AWS_ENDPOINT_URL_S3"]+"&use_path_style=true&region="+env["AWS_REGION"])
	})
	for _, tc := range []struct {
		name, key, secret, uri string
		want                   []string
	}{
		{"unknown access key", "LCFTNOSUCHKEY0000000", env["AWS_SECRET_ACCESS_KEY"], prefix + "/env/obj.json", []string{"InvalidAccessKeyId"}},
		{"wrong secret key", env["AWS_ACCESS_KEY_ID"], "not-the-secret-" + env["AWS_SECRET_ACCESS_KEY"][:8], prefix + "/env/obj.json", []string{"SignatureDoesNotMatch"}},
		{"missing bucket", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], "s3://lcft-no-such-bucket/x.csv", []string{"NoSuchBucket"}},
		{"anonymous", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], prefix + "/env/obj.json?anonymous=true", []string{"AccessDenied"}},
	} {
		for _, op := range []string{"read", "write"} {
			t.Run(tc.name+", "+op, func(t *testing.T) {
				setEnv(t, tc.key, tc.secret)
				var err error
				if op == "read" {
					_, err = ReadAll(ctx, tc.uri)
				} else {
					err = WriteAll(ctx, strings.Replace(tc.uri, "obj.json", "other.json", 1), []byte("x"))
				}
				if err == nil {
					t.Fatal("no error")
				}
				t.Logf("%s: %v", op, err)
				if !Permanent(err) {
					t.Errorf("not permanent: %v", err)
				}
				for _, s := range tc.want {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
			})
		}
	}
}

func readEnvFile(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3"} {
		if env[k] == "" {
			t.Fatalf("%s sets no %s", name, k)
		}
	}
	return env
}

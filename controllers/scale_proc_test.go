package controllers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The controller benchmark runs the real manager binary as a process of its
// own, so that its memory and CPU time can be read from /proc; these are the
// helpers that start it, read /proc and scrape its metrics.

// managerProcess is a running manager binary.
type managerProcess struct {
	cmd     *exec.Cmd
	metrics string // http://host:port/metrics
	log     string // file with its stdout and stderr
	exited  chan error
}

// startManagerProcess runs bin against the API server of kubeconfig, with
// plain-HTTP metrics on a free local port; env is added to this process's
// environment, args are more flags.
func startManagerProcess(t *testing.T, bin, kubeconfig string, env []string, args ...string) *managerProcess {
	t.Helper()
	port := freePort(t)
	logFile, err := os.CreateTemp(t.TempDir(), "manager-*.log")
	if err != nil {
		t.Fatalf("creating the manager's log: %v", err)
	}
	all := append([]string{
		"--kubeconfig=" + kubeconfig,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port),
		"--metrics-secure=false",
		"--health-probe-bind-address=0",
		"--trainer-image=lcft-trainer:test",
		"--artifact-uri=file://" + artifactRoot,
	}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	m := &managerProcess{cmd: cmd, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), log: logFile.Name(), exited: make(chan error, 1)}
	go func() { m.exited <- cmd.Wait(); _ = logFile.Close() }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

func (m *managerProcess) pid() int { return m.cmd.Process.Pid }

// stop ends the manager with SIGTERM (SIGKILL after 30 s) and waits for it.
func (m *managerProcess) stop(t *testing.T) {
	if m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
		t.Logf("manager %d did not stop on SIGTERM within 30 s; killed", m.pid())
	}
}

// alive fails the test with the end of the manager's log if it exited.
func (m *managerProcess) alive(t *testing.T) {
	t.Helper()
	select {
	case err := <-m.exited:
		m.exited <- err
		t.Fatalf("the manager exited (%v); its log ends with:\n%s", err, tail(m.log, 4000))
	default:
	}
}

func tail(file string, n int64) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeKubeconfig writes cfg (envtest's admin client certificate) as a
// kubeconfig file for the manager process.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	server := cfg.Host
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatalf("writing kubeconfig: %v", err)
	}
	return path
}

// procUsage is a process's CPU time and memory as /proc reports them.
type procUsage struct {
	cpu     time.Duration // user + system
	rssKiB  int64         // resident now
	peakKiB int64         // highest resident
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func readProc(pid int) (procUsage, error) {
	var u procUsage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14 and stime 15 (proc(5)).
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return u, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	u.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("reading /proc/%d/status: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			u.rssKiB = kib
		case "VmHWM":
			u.peakKiB = kib
		}
	}
	return u, sc.Err()
}

// controlPlaneCPU is the CPU time of envtest's kube-apiserver and etcd,
// the children of this test process.
func controlPlaneCPU() (time.Duration, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, p := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(p)
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil {
				continue
			}
			if name := strings.TrimSpace(string(comm)); name != "kube-apiserver" && name != "etcd" {
				continue
			}
			u, err := readProc(pid)
			if err != nil {
				return 0, err
			}
			total += u.cpu
		}
	}
	return total, nil
}

// selfCPU is this process's own CPU time (the driver's), without children.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads the manager's metrics.
func scrape(ctx context.Context, url string) ([]sample, error) {
	raw, err := httpGet(ctx, url)
	if err != nil {
		return nil, err
	}
	return parseMetrics(strings.NewReader(string(raw)))
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("getting %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return b, nil
}

// parseMetrics reads the samples of the Prometheus text format (label values
// without escaped quotes, which is all the benchmark reads).
func parseMetrics(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(s.name[i+1:], "}"), ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					s.labels[k] = strings.Trim(v, `"`)
				}
			}
			s.name = s.name[:i]
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// metricValue is the value of the sample of name whose labels include want
// (0 when there is none).
func metricValue(samples []sample, name string, want map[string]string) float64 {
	for _, s := range samples {
		if s.name == name && hasLabels(s.labels, want) {
			return s.value
		}
	}
	return 0
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// histogramQuantile estimates the q-quantile of the histogram name as
// Prometheus' histogram_quantile does: linear within the bucket that holds
// the rank; the count of the histogram is returned too.
func histogramQuantile(samples []sample, name string, q float64) (float64, float64) {
	type bucket struct{ le, count float64 }
	var buckets []bucket
	for _, s := range samples {
		if s.name != name+"_bucket" {
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64) // "+Inf" parses as +Inf
		if err != nil {
			continue
		}
		buckets = append(buckets, bucket{le, s.value})
	}
	if len(buckets) == 0 {
		return 0, 0
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	total := buckets[len(buckets)-1].count
	if total == 0 {
		return 0, 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range buckets {
		if b.count >= rank {
			if i == len(buckets)-1 && i > 0 { // the +Inf bucket: its lower bound is all we know
				return buckets[i-1].le, total
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below), total
		}
		lower, below = b.le, b.count
	}
	return lower, total
}

// requestCounts is apiserver_request_total summed by verb, resource,
// subresource and code.
type requestCounts map[string]float64

// apiserverRequests reads the API server's request counters.
func apiserverRequests(ctx context.Context, rc rest.Interface) (requestCounts, error) {
	raw, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	samples, err := parseMetrics(strings.NewReader(string(raw)))
	if err != nil {
		return nil, err
	}
	out := requestCounts{}
	for _, s := range samples {
		if s.name != "apiserver_request_total" {
			continue
		}
		l := s.labels
		key := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		out[key+" "+l["code"]] += s.value
	}
	return out, nil
}

// perCohort lists the requests made between before and after at least
// once per ten cohorts, as counts per cohort, most first.
func perCohort(before, after requestCounts, n int) string {
	type kv struct {
		k string
		v float64
	}
	var rows []kv
	for k, v := range after {
		if d := (v - before[k]) / float64(n); d >= 0.1 {
			rows = append(rows, kv{k, d})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].v > rows[j].v || rows[i].v == rows[j].v && rows[i].k < rows[j].k })
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprintf("%s %.2f", r.k, r.v)
	}
	return strings.Join(parts, ", ")
}

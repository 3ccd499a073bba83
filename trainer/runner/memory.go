package runner

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// peakRSS is the process's peak resident set size in bytes (getrusage's
// ru_maxrss, which Linux reports in KiB), or 0 when unknown.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}

// cgroupPeak is the peak memory usage in bytes of the cgroup the process
// runs in (a pod's container: what the OOM killer compares with the
// limit), read from cgroup v2's memory.peak or v1's
// memory.max_usage_in_bytes; 0 when neither is readable.
func cgroupPeak() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return v
		}
	}
	return 0
}

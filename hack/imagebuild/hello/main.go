// Command hello is the cluster smoke test's workload (hack/cluster/smoke.sh):
// a static binary that reports where it runs, writes a termination message
// like the trainer does, and exits 0.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	host, _ := os.Hostname()
	msg := fmt.Sprintf(`{"index":%q,"arch":%q,"uid":%d,"host":%q}`,
		os.Getenv("JOB_COMPLETION_INDEX"), runtime.GOARCH, os.Getuid(), host)
	fmt.Println("hello from", msg)
	if path := os.Getenv("TERMINATION_LOG"); path != "" {
		if err := os.WriteFile(path, []byte(msg), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "termination log:", err)
			os.Exit(1)
		}
	}
}

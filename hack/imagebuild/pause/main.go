// Command pause is a minimal pod sandbox ("infra") container for containerd's
// sandbox_image, so the local cluster never pulls registry.k8s.io/pause.
//
// Like the upstream pause container it holds the pod's namespaces open,
// exits 0 on SIGINT/SIGTERM, and reaps zombies when it is PID 1 of a pod that
// shares its PID namespace. It is built static (CGO_ENABLED=0) by
// hack/imagebuild and needs nothing else in its image.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause (lcft-operator hack/imagebuild)")
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		default:
			fmt.Fprintf(os.Stderr, "shutting down, got signal %v\n", sig)
			os.Exit(0)
		}
	}
}

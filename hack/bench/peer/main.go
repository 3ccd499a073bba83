// Command peer measures the trainer against a PyTorch implementation of
// the same models (hack/bench/torch_peer.py) on the same data, initial
// weights and loops; hack/bench-peer.sh (make bench-peer) runs both sides
// interleaved and prints the ratios.
//
//	peer export  -dir DIR [-users N]   dataset, initial weights, manifest
//	peer run     -dir DIR -out FILE    per-user fine-tuning and training steps
//	             [-cpuprofile FILE]    (profile of the Wide&Deep fine-tuning)
//	peer check   -dir DIR -out FILE    loss and gradients of one batch
//	peer peak    -out FILE             the core's float32 FMA peak
//	peer cores   -dir DIR -out FILE    the runner on 1 and 2 cores
//	             [-cores-users N]      (users of its synthetic dataset,
//	             [-cores-epochs N]     pretraining epochs)
//	peer report  -dir DIR              the tables, from the files above
//
// The models are the trainer's own (trainer/model): this program only
// drives them.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

const usage = "usage: peer export|run|check|peak|cores|report -dir DIR [-out FILE] (see the package documentation)"

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the exported dataset, weights and manifest")
	out := fs.String("out", "", "JSON file to write the results to")
	users := fs.Int("users", 1000, "export: number of users of the synthetic dataset")
	coresUsers := fs.Int("cores-users", 6000, "cores: users of the synthetic dataset (50 samples each)")
	coresEpochs := fs.Int("cores-epochs", 4, "cores: pretraining epochs")
	cpuprofile := fs.String("cpuprofile", "", "run: write a CPU profile of the Wide&Deep per-user fine-tuning to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" && args[0] != "peak" {
		return fmt.Errorf("%s: -dir is required", args[0])
	}
	var res any
	var err error
	switch args[0] {
	case "export":
		return export(*dir, *users, stdout)
	case "run":
		res, err = runBench(*dir, *cpuprofile)
	case "check":
		res, err = check(*dir)
	case "peak":
		res, err = measurePeak()
	case "cores":
		res, err = cores(*dir, coresWork{Users: *coresUsers, PretrainEpochs: *coresEpochs}, stdout)
	case "report":
		return report(*dir, stdout)
	default:
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return writeJSON(*out, res, stdout)
}

// writeJSON writes v to path, or to stdout when path is empty.
func writeJSON(path string, v any, stdout io.Writer) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encoding the results: %w", err)
	}
	b = append(b, '\n')
	if path == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	return nil
}

// readJSON decodes the JSON file path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Command imagebuild makes OCI images from static Go binaries, with no Docker
// daemon and no base image to pull (what `ko` does, cut down to what this
// project needs).
//
// Each image has a single layer:
//
//	/<entry>            the binary (mode 0755), the entrypoint
//	/etc/passwd, group  root and nonroot (uid/gid 65532), as in distroless
//	/etc/ssl/certs/ca-certificates.crt  copied from the build host when present
//	/home/nonroot       the working directory, owned by 65532
//	/tmp                mode 1777 (pods mount an emptyDir there anyway)
//
// and runs as user 65532:65532. Binaries are either built here (-pkg, with
// CGO_ENABLED=0 and -trimpath, once per -platforms entry) or given (-bin
// linux/arm64=PATH). With -pkg, each -extra PKG is built the same way and
// shipped as /usr/local/bin/<last element of PKG> (on PATH), for example the
// kubectl plugin beside the manager. Outputs, any combination:
//
//	-oci-layout DIR      OCI image layout holding the multi-arch index
//	-oci-archive FILE    the same layout as a tar: `ctr images import --all-platforms FILE`
//	-docker-archive FILE a `docker save` tarball of one platform (-docker-platform,
//	                     default the host's): `ctr images import FILE`, `docker load`
//
// Timestamps come from SOURCE_DATE_EPOCH (default 0), so the same binaries
// give the same digests.
//
// Example:
//
//	go run . -C ../.. -pkg ./trainer/cmd/lcft-trainer -ref localhost/lcft-trainer:dev \
//	  -platforms linux/amd64,linux/arm64 -oci-archive ../../bin/images/lcft-trainer.oci.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	nonrootUID = 65532
	passwd     = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group      = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	ref            string
	pkg            string
	dir            string
	entry          string
	platforms      string
	ldflags        string
	bins           multiFlag
	extras         multiFlag
	labels         multiFlag
	caBundle       string
	ociLayout      string
	ociArchive     string
	dockerArchive  string
	dockerPlatform string
	archArchives   multiFlag
}

func main() {
	var o options
	flag.StringVar(&o.ref, "ref", "", "image reference, e.g. localhost/lcft-trainer:dev (required)")
	flag.StringVar(&o.pkg, "pkg", "", "Go main package to build for each platform, relative to -C")
	flag.StringVar(&o.dir, "C", ".", "directory (Go module) to run `go build` in")
	flag.StringVar(&o.entry, "entry", "", "file name of the binary in the image (default: last element of -pkg or of the -bin path)")
	flag.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list to build with -pkg")
	flag.StringVar(&o.ldflags, "ldflags", "-s -w", "go build -ldflags")
	flag.Var(&o.bins, "bin", "os/arch=PATH of a prebuilt static binary (repeatable; instead of -pkg)")
	flag.Var(&o.extras, "extra", "another Go main package to build with -pkg and ship as /usr/local/bin/<name> (repeatable)")
	flag.Var(&o.labels, "label", "KEY=VALUE image config label (repeatable)")
	flag.StringVar(&o.caBundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to copy into the image when it exists (\"\" for none)")
	flag.StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout (multi-arch index) to this directory")
	flag.StringVar(&o.ociArchive, "oci-archive", "", "write the OCI image layout as a tar file")
	flag.StringVar(&o.dockerArchive, "docker-archive", "", "write a `docker save` tarball of one platform")
	flag.StringVar(&o.dockerPlatform, "docker-platform", runtime.GOOS+"/"+runtime.GOARCH, "platform for -docker-archive")
	flag.Var(&o.archArchives, "platform-archive", "os/arch=PATH: also write a `docker save` tarball of that platform (repeatable; an emulated node imports it so the image name resolves to that platform's manifest)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.ref == "" {
		return fmt.Errorf("-ref is required")
	}
	tag, err := name.NewTag(o.ref)
	if err != nil {
		return fmt.Errorf("-ref: %w", err)
	}
	if o.ociLayout == "" && o.ociArchive == "" && o.dockerArchive == "" {
		return fmt.Errorf("no output: give -oci-layout, -oci-archive and/or -docker-archive")
	}
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		created = time.Unix(sec, 0).UTC()
	}
	labels := map[string]string{}
	for _, l := range o.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("-label %q: want KEY=VALUE", l)
		}
		labels[k] = v
	}

	bins, extras, cleanup, err := binaries(o)
	defer cleanup()
	if err != nil {
		return err
	}
	var ca []byte
	if o.caBundle != "" {
		if b, err := os.ReadFile(o.caBundle); err == nil {
			ca = b
		}
	}

	platforms := make([]string, 0, len(bins))
	for p := range bins {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	images := map[string]v1.Image{}
	for _, p := range platforms {
		entry := o.entry
		if entry == "" {
			entry = filepath.Base(bins[p])
		}
		img, err := image(p, entry, bins[p], extras[p], ca, labels, created)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		images[p] = img
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: plat},
		})
		d, _ := img.Digest()
		fmt.Fprintf(os.Stderr, "imagebuild: %s %s %s\n", tag.String(), p, d)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "imagebuild: %s index %s\n", tag.String(), idxDigest)

	// Both annotations: containerd's importer uses io.containerd.image.name
	// (a full reference); other tools use the OCI ref.name.
	annotations := map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.Name(),
	}
	writeLayout := func(dir string) error {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		lp, err := layout.Write(dir, empty.Index)
		if err != nil {
			return err
		}
		return lp.AppendIndex(idx, layout.WithAnnotations(annotations))
	}
	if o.ociLayout != "" {
		if err := writeLayout(o.ociLayout); err != nil {
			return fmt.Errorf("oci layout: %w", err)
		}
		fmt.Fprintf(os.Stderr, "imagebuild: wrote OCI layout %s\n", o.ociLayout)
	}
	if o.ociArchive != "" {
		tmp, err := os.MkdirTemp("", "imagebuild-layout-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir := filepath.Join(tmp, "layout")
		if err := writeLayout(dir); err != nil {
			return fmt.Errorf("oci archive: %w", err)
		}
		if err := tarDir(dir, o.ociArchive, created); err != nil {
			return fmt.Errorf("oci archive: %w", err)
		}
		fmt.Fprintf(os.Stderr, "imagebuild: wrote OCI archive %s\n", o.ociArchive)
	}
	archives := map[string]string{}
	if o.dockerArchive != "" {
		archives[o.dockerArchive] = o.dockerPlatform
	}
	for _, a := range o.archArchives {
		platform, path, ok := strings.Cut(a, "=")
		if !ok || path == "" {
			return fmt.Errorf("-platform-archive %q: want os/arch=PATH", a)
		}
		archives[path] = platform
	}
	for path, platform := range archives {
		img, ok := images[platform]
		if !ok {
			return fmt.Errorf("docker archive %s: platform %s was not built (have %s)", path, platform, strings.Join(platforms, ","))
		}
		if err := writeDockerArchive(path, tag, img); err != nil {
			return fmt.Errorf("docker archive %s (%s): %w", path, platform, err)
		}
		fmt.Fprintf(os.Stderr, "imagebuild: wrote docker archive %s (%s)\n", path, platform)
	}
	fmt.Println(idxDigest.String())
	return nil
}

// extraBin is a binary shipped beside the entrypoint, in /usr/local/bin.
type extraBin struct {
	name string // file name in /usr/local/bin
	path string // the built binary on the build host
}

// binaries returns platform -> path of a static binary, and platform -> the
// -extra binaries, building them with `go build` when -pkg is given.
func binaries(o options) (map[string]string, map[string][]extraBin, func(), error) {
	out := map[string]string{}
	extras := map[string][]extraBin{}
	noop := func() {}
	if (o.pkg == "") == (len(o.bins) == 0) {
		return nil, nil, noop, fmt.Errorf("give exactly one of -pkg or -bin")
	}
	if len(o.bins) > 0 {
		if len(o.extras) > 0 {
			return nil, nil, noop, fmt.Errorf("-extra needs -pkg (it is built like it)")
		}
		for _, b := range o.bins {
			p, file, ok := strings.Cut(b, "=")
			if !ok {
				return nil, nil, noop, fmt.Errorf("-bin %q: want os/arch=PATH", b)
			}
			if _, err := os.Stat(file); err != nil {
				return nil, nil, noop, err
			}
			out[p] = file
		}
		return out, extras, noop, nil
	}
	tmp, err := os.MkdirTemp("", "imagebuild-bin-")
	if err != nil {
		return nil, nil, noop, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	for _, p := range strings.Split(o.platforms, ",") {
		p = strings.TrimSpace(p)
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || strings.Contains(goarch, "/") {
			return nil, nil, cleanup, fmt.Errorf("-platforms: %q is not os/arch", p)
		}
		dir := filepath.Join(tmp, goos+"-"+goarch)
		if out[p], err = build(o, o.pkg, goos, goarch, filepath.Join(dir, "entry")); err != nil {
			return nil, nil, cleanup, err
		}
		for _, pkg := range o.extras {
			name := pkgBase(pkg)
			file, err := build(o, pkg, goos, goarch, filepath.Join(dir, "extra", name))
			if err != nil {
				return nil, nil, cleanup, err
			}
			extras[p] = append(extras[p], extraBin{name: name, path: file})
		}
	}
	return out, extras, cleanup, nil
}

// pkgBase is the last element of a package path, the binary's name.
func pkgBase(pkg string) string {
	base := path.Base(strings.TrimSuffix(pkg, "/"))
	if base == "." || base == "" {
		return "app"
	}
	return base
}

// build runs `go build` of pkg for goos/goarch into a file named after the
// package in dir(file), and returns its path.
func build(o options, pkg, goos, goarch, file string) (string, error) {
	file = filepath.Join(filepath.Dir(file), pkgBase(pkg))
	start := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", o.ldflags, "-o", file, pkg)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s for %s/%s: %w", pkg, goos, goarch, err)
	}
	fmt.Fprintf(os.Stderr, "imagebuild: built %s for %s/%s in %s\n", pkg, goos, goarch, time.Since(start).Round(100*time.Millisecond))
	return file, nil
}

func image(platform, entry, bin string, extras []extraBin, ca []byte, labels map[string]string, created time.Time) (v1.Image, error) {
	plat, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	extraData := make(map[string][]byte, len(extras))
	for _, e := range extras {
		if extraData[e.name], err = os.ReadFile(e.path); err != nil {
			return nil, err
		}
	}
	layerTar, err := rootfs(entry, binData, extraData, ca, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{CreatedBy: "hack/imagebuild: /" + entry, Created: v1.Time{Time: created}},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = plat.OS
	cf.Architecture = plat.Architecture
	cf.Variant = plat.Variant
	cf.Created = v1.Time{Time: created}
	cf.Config.Entrypoint = []string{"/" + entry}
	cf.Config.Cmd = nil
	cf.Config.User = fmt.Sprintf("%d:%d", nonrootUID, nonrootUID)
	cf.Config.WorkingDir = "/home/nonroot"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	if len(ca) == 0 {
		cf.Config.Env = cf.Config.Env[:1]
	}
	if len(labels) > 0 {
		cf.Config.Labels = labels
	}
	return mutate.ConfigFile(img, cf)
}

// rootfs returns the uncompressed tar of the image's only layer; extras are
// file name -> binary for /usr/local/bin.
func rootfs(entry string, bin []byte, extras map[string][]byte, ca []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("home", 0o755, 0) },
		func() error { return dir("home/nonroot", 0o700, nonrootUID) },
		func() error { return dir("tmp", 0o1777, 0) },
	}
	if len(ca) > 0 {
		steps = append(steps,
			func() error { return dir("etc/ssl", 0o755, 0) },
			func() error { return dir("etc/ssl/certs", 0o755, 0) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, ca) },
		)
	}
	if len(extras) > 0 {
		steps = append(steps,
			func() error { return dir("usr", 0o755, 0) },
			func() error { return dir("usr/local", 0o755, 0) },
			func() error { return dir("usr/local/bin", 0o755, 0) },
		)
		names := make([]string, 0, len(extras))
		for n := range extras {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			steps = append(steps, func() error { return file("usr/local/bin/"+n, 0o755, extras[n]) })
		}
	}
	steps = append(steps, func() error { return file(entry, 0o755, bin) })
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarDir writes the files under dir into a tar at out (paths relative to dir).
func tarDir(dir, out string, mtime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmpOut := out + ".tmp"
	f, err := os.Create(tmpOut)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: mtime})
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: info.Size(), ModTime: mtime}); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpOut)
		return err
	}
	return os.Rename(tmpOut, out)
}

// writeDockerArchive writes img as a `docker save` tarball named by tag,
// through a temporary file so that a failed write leaves no partial archive.
func writeDockerArchive(path string, tag name.Tag, img v1.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

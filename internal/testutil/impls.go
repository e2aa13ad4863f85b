package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Environment variables read by [Impls].
const (
	// EnvImpls selects the implementations to run: a comma list of
	// "upstream" and "ours". Empty or unset means both.
	EnvImpls = "NSQD_IMPLS"
	// EnvOursBin, if set, is used as our nsqd binary instead of building
	// ./cmd/nsqd (for example a binary built with -race).
	EnvOursBin = "NSQD_OURS_BIN"
)

// Impl is one nsqd implementation that a compatibility test runs against.
type Impl struct {
	Name string // "upstream" or "ours"; use it as the t.Run name
	Bin  string // path of the executable ("" if Err != nil)
	Ours bool   // true for our daemon: the place to branch on deliberate differences
	Err  error  // why Bin is unusable (upstream not installed, our build failed)
}

// Start fails the test if the implementation is unusable and otherwise
// returns StartNSQD(t, i.Bin, args...).
func (i Impl) Start(t testing.TB, args ...string) *Daemon {
	t.Helper()
	if i.Err != nil {
		t.Fatalf("%s nsqd unusable: %v", i.Name, i.Err)
	}
	return StartNSQD(t, i.Bin, args...)
}

// Impls returns the implementations selected by NSQD_IMPLS, in the order
// upstream, ours. Our binary is built at most once per test process (on the
// first call that needs it) with `go build -o <tmp>/nsqd ./cmd/nsqd` from the
// module root; a build failure is reported through Impl.Err, so only the
// "ours" subtests fail. A missing upstream binary is reported the same way,
// with the hint to run scripts/upstream.sh.
func Impls(t testing.TB) []Impl {
	t.Helper()
	want := map[string]bool{"upstream": true, "ours": true}
	if v := strings.TrimSpace(os.Getenv(EnvImpls)); v != "" {
		want = map[string]bool{}
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name != "upstream" && name != "ours" {
				t.Fatalf("%s=%q: unknown implementation %q (want upstream, ours)", EnvImpls, v, name)
			}
			want[name] = true
		}
	}
	var impls []Impl
	if want["upstream"] {
		impls = append(impls, upstreamImpl())
	}
	if want["ours"] {
		impls = append(impls, oursImpl())
	}
	return impls
}

func upstreamImpl() Impl {
	i := Impl{Name: "upstream"}
	root, err := ModuleRoot()
	if err != nil {
		i.Err = err
		return i
	}
	bin := filepath.Join(root, ".bin", "nsqd")
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		i.Err = fmt.Errorf("upstream nsqd v1.3.0 not found at %s: run scripts/upstream.sh", bin)
		return i
	}
	i.Bin = bin
	return i
}

var ours struct {
	once sync.Once
	dir  string // temporary directory holding the built binary
	bin  string
	err  error
}

func oursImpl() Impl {
	ours.once.Do(buildOurs)
	return Impl{Name: "ours", Bin: ours.bin, Ours: true, Err: ours.err}
}

func buildOurs() {
	if bin := os.Getenv(EnvOursBin); bin != "" {
		ours.bin = bin
		return
	}
	root, err := ModuleRoot()
	if err != nil {
		ours.err = err
		return
	}
	ours.dir, err = os.MkdirTemp("", "nsqreactor-ours-")
	if err != nil {
		ours.err = err
		return
	}
	bin := filepath.Join(ours.dir, "nsqd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/nsqd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		ours.err = fmt.Errorf("go build ./cmd/nsqd in %s: %v\n%s", root, err, out)
		return
	}
	ours.bin = bin
}

// RemoveBuilds deletes the binaries built by Impls. Call it from TestMain
// after m.Run; it is a no-op if nothing was built.
func RemoveBuilds() {
	if ours.dir != "" {
		os.RemoveAll(ours.dir)
	}
}

var moduleRoot struct {
	once sync.Once
	dir  string
	err  error
}

// ModuleRoot returns the directory holding the nsqreactor go.mod, from
// `go env GOMOD` or, failing that, by walking up from the working directory.
func ModuleRoot() (string, error) {
	moduleRoot.once.Do(func() {
		if out, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
			if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
				moduleRoot.dir = filepath.Dir(gomod)
				return
			}
		}
		dir, err := os.Getwd()
		if err != nil {
			moduleRoot.err = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				moduleRoot.dir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				moduleRoot.err = errors.New("testutil: no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	return moduleRoot.dir, moduleRoot.err
}

package compat

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// nodeDeps installs test/nodejs's locked dependencies (nsqjs, snappystream)
// with `npm ci` into test/nodejs/node_modules (gitignored), at most once per
// test process, and only when package-lock.json is newer than the install.
var nodeDeps struct {
	once sync.Once
	dir  string
	skip string // why the nodejs tests cannot run here
	err  error
}

// networkFailure matches npm's messages for an unreachable registry.
var networkFailure = regexp.MustCompile(`ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network`)

func installNodeDeps() {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			nodeDeps.skip = tool + " is not installed: skipping the nsqjs compatibility tests"
			return
		}
	}
	root, err := testutil.ModuleRoot()
	if err != nil {
		nodeDeps.err = err
		return
	}
	dir := filepath.Join(root, "test", "nodejs")
	nodeDeps.dir = dir
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		nodeDeps.err = err
		return
	}
	if done, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !done.ModTime().Before(lock.ModTime()) {
		return // installed from this lock file already
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil:
	case networkFailure.Match(out):
		nodeDeps.skip = "npm ci cannot reach the registry: skipping the nsqjs compatibility tests\n" + string(out)
	default:
		nodeDeps.err = &npmError{err: err, out: out}
	}
}

type npmError struct {
	err error
	out []byte
}

func (e *npmError) Error() string { return "npm ci: " + e.err.Error() + "\n" + string(e.out) }

// nsqjs publishes and consumes (PUB, MPUB and a 512 KiB message, checked
// byte for byte) through nsqd with no compression, snappy and deflate, in
// the clear and over TLS: a second, independent client implementation of
// the upgrades (spec §3.3).
func TestNodeJSClient(t *testing.T) {
	nodeDeps.once.Do(installNodeDeps)
	if nodeDeps.skip != "" {
		t.Skip(nodeDeps.skip)
	}
	if nodeDeps.err != nil {
		t.Fatal(nodeDeps.err)
	}
	pki := newTestPKI(t)
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t, pki.flags()...)
		for _, comp := range []string{"none", "snappy", "deflate"} {
			for _, useTLS := range []string{"", "tls"} {
				name := comp
				if useTLS != "" {
					name += "+tls"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
					defer cancel()
					args := []string{"compat.js", d.TCPAddr, uniq(t, "js"), comp}
					if useTLS != "" {
						args = append(args, useTLS)
					}
					cmd := exec.CommandContext(ctx, "node", args...)
					cmd.Dir = nodeDeps.dir
					var out bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &out
					if err := cmd.Run(); err != nil {
						t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out.String())
					}
					if !strings.HasPrefix(out.String(), "OK 71 messages") {
						t.Fatalf("node %s printed %q, want OK 71 messages", strings.Join(args, " "), out.String())
					}
				})
			}
		}
	})
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindRepoRoot walks up from dir to the directory whose go.mod declares module nsqreactor.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(first) == "module nsqreactor" {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench: no go.mod with \"module nsqreactor\" above the working directory; pass -repo")
		}
		dir = parent
	}
}

// BuildOurs builds the repository's ./cmd/nsqd into dir and returns the binary's path.
func BuildOurs(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "nsqd-ours")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/nsqd")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: go build ./cmd/nsqd in %s: %w\n%s", repo, err, out)
	}
	return bin, nil
}

// EnsureUpstream returns <repo>/.bin/nsqd, building upstream v1.3.0 through the tools module
// (tools/upstream, `GOBIN=<repo>/.bin go install tool`) first if it is missing.
func EnsureUpstream(ctx context.Context, repo string) (string, error) {
	bindir := filepath.Join(repo, ".bin")
	bin := filepath.Join(bindir, "nsqd")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", "tool")
	cmd.Dir = filepath.Join(repo, "tools", "upstream")
	cmd.Env = append(os.Environ(), "GOBIN="+bindir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: building upstream in tools/upstream: %w\n%s", err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("bench: upstream build left no %s: %w", bin, err)
	}
	return bin, nil
}

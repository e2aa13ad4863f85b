package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// MachineInfo is the header of every results file: what ran where, when, from which commit.
type MachineInfo struct {
	CPU          string // model name from /proc/cpuinfo
	Cores        int
	Memory       string // MemTotal from /proc/meminfo
	Kernel       string
	GoVersion    string // the go command's version (what built both daemons)
	Commit       string // short commit of the repository, "uncommitted" if it has none
	Dirty        bool   // the work tree had changes
	Date         time.Time
	UpstreamInfo string // `<upstream> --version`
	OursInfo     string // `<ours> --version`
}

// CollectMachine gathers MachineInfo; repo may be "" (no commit then).
func CollectMachine(ctx context.Context, repo, upstream, ours string) MachineInfo {
	m := MachineInfo{Cores: runtime.NumCPU(), Date: time.Now(), Commit: "uncommitted"}
	m.CPU = procField("/proc/cpuinfo", "model name")
	m.Memory = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.GoVersion = firstLine(commandOutput(ctx, "", "go", "version"))
	if m.GoVersion == "" {
		m.GoVersion = runtime.Version()
	}
	if repo != "" {
		if c := commandOutput(ctx, repo, "git", "rev-parse", "--short=12", "HEAD"); c != "" {
			m.Commit = c
		}
		m.Dirty = commandOutput(ctx, repo, "git", "status", "--porcelain") != ""
	}
	m.UpstreamInfo = BinaryVersion(ctx, upstream)
	m.OursInfo = BinaryVersion(ctx, ours)
	return m
}

// BinaryVersion returns the first line of `bin --version`, or a note that it printed none.
func BinaryVersion(ctx context.Context, bin string) string {
	if bin == "" {
		return ""
	}
	v := firstLine(commandOutput(ctx, "", bin, "--version"))
	if v == "" {
		return "(no --version output)"
	}
	return v
}

// commandOutput runs a short command with a 10 s bound and returns its trimmed output, or "".
func commandOutput(ctx context.Context, dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// procField returns the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

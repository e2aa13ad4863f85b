package nsqreactor_test

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, for each package of this module, which of the module's own
// packages it may import (directly or not). DESIGN.md: cmd → httpfast, loop
// → core → queue, codec; codec and queue are leaves; httpfast and loop never
// import each other. Test-only helpers are never imported by production code.
var allowed = map[string][]string{
	"nsqreactor/codec":    {},
	"nsqreactor/queue":    {},
	"nsqreactor/core":     {"nsqreactor/queue", "nsqreactor/codec"},
	"nsqreactor/loop":     {"nsqreactor/core", "nsqreactor/queue", "nsqreactor/codec", "nsqreactor/auth"},
	"nsqreactor/httpfast": {"nsqreactor/core", "nsqreactor/queue", "nsqreactor/codec"},
	"nsqreactor/cluster":  {"nsqreactor/core", "nsqreactor/queue", "nsqreactor/codec"},
	"nsqreactor/auth":     {},
}

// TestImportArrows fails the build on an import arrow pointing the wrong way.
func TestImportArrows(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, deps := fields[0], fields[1:]
		if strings.HasPrefix(pkg, "nsqreactor/internal/") || strings.HasPrefix(pkg, "nsqreactor/test/") || strings.HasPrefix(pkg, "nsqreactor/cmd/") || pkg == "nsqreactor" {
			continue
		}
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("package %s has no entry in arch_test.go's allowed map: add it with its permitted imports", pkg)
			continue
		}
		for _, d := range deps {
			if !strings.HasPrefix(d, "nsqreactor/") {
				continue
			}
			if !contains(ok, d) {
				t.Errorf("forbidden import: %s depends on %s", pkg, d)
			}
		}
	}
	// production code never imports the test helpers
	out, err = exec.Command("go", "list", "-deps", "./cmd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if strings.Contains(string(out), "nsqreactor/internal/testutil") {
		t.Error("cmd/... depends on internal/testutil")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

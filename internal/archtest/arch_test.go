package archtest

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/bulwarkauth/bulwark"

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, mod), "/") }

// level is each internal package's place in DESIGN.md's import table.
// A package may import only packages of a strictly lower level, except
// where allowed lists a same-or-higher-level exception.
var level = map[string]int{
	"internal/oauth": 0, "internal/jose": 0, "internal/mtls": 0, "internal/telemetry": 0, "internal/secret": 0,
	"internal/dpop": 1, "internal/store": 1, "internal/store/storetest": 2,
	"internal/httpx": 2, "internal/clients": 2,
	"internal/authorize": 3, "internal/token": 3, "internal/login": 3, "internal/discovery": 3, "internal/admin": 3,
	"client": 2, "resource": 3,
	"internal/authserver": 4, "internal/gateway": 4, "internal/bff": 4,
	"internal/config": 5, "internal/store/sqlite": 5, "internal/store/postgres": 5, "internal/store/redis": 5, "internal/store/memory": 5,
	"cmd/bulwark": 6, "bench/loadgen": 6, "bench/upstream": 6, "bench/floor": 2,
}

// badDeps maps a third-party import prefix to the only packages allowed to
// import it, with the reason.
var badDeps = map[string]struct {
	allowed []string
	why     string
}{
	"github.com/go-jose/go-jose":       {[]string{"internal/jose"}, "one package owns algorithm allow-lists and key checks"},
	"modernc.org/sqlite":               {[]string{"internal/store/sqlite"}, "drivers stay behind the store contract"},
	"github.com/jackc/pgx":             {[]string{"internal/store/postgres"}, "drivers stay behind the store contract"},
	"github.com/redis/go-redis":        {[]string{"internal/store/redis"}, "drivers stay behind the store contract"},
	"github.com/spf13/cobra":           {[]string{"cmd/bulwark"}, "the CLI framework is wiring only"},
	"go.yaml.in/yaml":                  {[]string{"internal/config"}, "one configuration schema, decoded in one place"},
	"gopkg.in/yaml":                    {[]string{"internal/config"}, "one configuration schema, decoded in one place"},
	"github.com/prometheus":            {[]string{"internal/telemetry"}, "metrics are recorded through telemetry"},
	"github.com/chromedp/chromedp":     {nil, "browser automation is for tests only"},
	"github.com/open-policy-agent/opa": {[]string{"internal/gateway"}, "route policies are evaluated only by the gateway"},
}

// isTestHelper reports whether p is one of the test-support packages
// (internal/testenv and below, the store conformance suite), which only
// _test.go files may import.
func isTestHelper(p string) bool {
	return p == "internal/testenv" || strings.HasPrefix(p, "internal/testenv/") || p == "internal/store/storetest"
}

func TestImportLevels(t *testing.T) {
	for _, p := range listPackages(t) {
		from := rel(p.ImportPath)
		for _, imp := range p.Imports {
			for prefix, rule := range badDeps {
				if strings.HasPrefix(imp, prefix) && !slices.Contains(rule.allowed, from) {
					t.Errorf("%s imports %s: %s", from, imp, rule.why)
				}
			}
			if !strings.HasPrefix(imp, mod+"/") {
				continue
			}
			to := rel(imp)
			if isTestHelper(to) || isTestHelper(from) {
				if !isTestHelper(from) {
					t.Errorf("%s imports %s: test helpers are for _test.go files only", from, to)
				}
				continue
			}
			lf, okf := level[from]
			lt, okt := level[to]
			if !okf || !okt {
				t.Errorf("%s → %s: package missing from the level table in arch_test.go (and DESIGN/architecture docs)", from, to)
				continue
			}
			if lt >= lf {
				t.Errorf("%s (level %d) imports %s (level %d): imports must point to a lower level", from, lf, to, lt)
			}
		}
	}
}

// TestProtocolPackagesAvoidHTTP keeps net/http and testing out of the
// packages DESIGN.md names, so protocol logic stays callable from plain Go.
func TestProtocolPackagesAvoidHTTP(t *testing.T) {
	noHTTP := []string{"internal/jose", "internal/dpop", "internal/mtls", "internal/store", "internal/secret"}
	for _, p := range listPackages(t) {
		from := rel(p.ImportPath)
		for _, imp := range p.Imports {
			if imp == "testing" || (strings.HasPrefix(imp, mod+"/") && isTestHelper(rel(imp))) {
				// The test-support packages are imported only from
				// _test.go files, which TestImportLevels checks.
				if !isTestHelper(from) {
					t.Errorf("%s (non-test code) imports %s", from, imp)
				}
			}
			if slices.Contains(noHTTP, from) && (imp == "net/http" || strings.HasPrefix(imp, "net/http/")) {
				t.Errorf("%s imports %s: protocol packages take values, not requests", from, imp)
			}
		}
	}
}

// TestEnvironmentOnlyInConfig allows os.Getenv only in config and the CLI.
func TestEnvironmentOnlyInConfig(t *testing.T) {
	for _, p := range listPackages(t) {
		from := rel(p.ImportPath)
		if from == "internal/config" || from == "cmd/bulwark" || from == "internal/testenv" {
			continue
		}
		for _, f := range p.GoFiles {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, fn := range []string{"os.Getenv", "os.LookupEnv", "os.Environ"} {
				if bytes.Contains(b, []byte(fn)) {
					t.Errorf("%s/%s calls %s: only config and cmd/bulwark read the environment", from, f, fn)
				}
			}
		}
	}
}

// TestPackageDocs requires a package doc comment in doc.go for every
// package, and that it begins "Package <name>".
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: no doc.go with the package documentation", rel(p.ImportPath))
			continue
		}
		if f.Doc == nil || !strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") && f.Name.Name != "main" {
			t.Errorf("%s: doc.go must start with \"Package %s ...\"", rel(p.ImportPath), f.Name.Name)
		}
	}
}

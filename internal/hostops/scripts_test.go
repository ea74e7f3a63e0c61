package hostops

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// Every script parses with sh -n and passes shellcheck as a POSIX sh script.
func TestScriptsPassShAndShellcheck(t *testing.T) {
	t.Parallel()
	testutil.Require(t, "sh", "shellcheck")
	names := ScriptNames()
	if len(names) < 10 {
		t.Fatalf("only %d scripts embedded: %v", len(names), names)
	}
	for _, name := range names {
		path := filepath.Join("scripts", name+".sh")
		if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", path, err, out)
		}
		if out, err := exec.Command("shellcheck", "-s", "sh", path).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", path, err, out)
		}
	}
}

// Each script documents the one exit-code table, exactly as the Go side
// defines it, and names itself first.
func TestScriptsCarryTheExitCodeTable(t *testing.T) {
	t.Parallel()
	header := exitTableHeader()
	for _, name := range ScriptNames() {
		text, err := Script(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, header) {
			t.Errorf("%s.sh lacks the exit-code table:\n%s", name, header)
		}
		if !strings.HasPrefix(text, "#!/bin/sh\n# "+name+" ") {
			t.Errorf("%s.sh should start with #!/bin/sh and its usage line", name)
		}
	}
}

func TestUnknownScriptIsAnError(t *testing.T) {
	t.Parallel()
	if _, err := CommandLine("no-such-script", false, "/"); err == nil {
		t.Fatal("an unknown script must be an error")
	}
}

func TestCommandLineQuotesArgumentsAsWords(t *testing.T) {
	t.Parallel()
	line, err := CommandLine(scriptLockRelease, true, "/", "run; rm -rf /")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "sudo -n sh -c '#!/bin/sh") || !strings.HasSuffix(line, "' nixctl-deploy-lock-release / 'run; rm -rf /'") {
		t.Errorf("command line: %s", line)
	}
	if _, err := CommandLine(scriptLockRelease, false, "/", "a\nb"); err == nil {
		t.Error("a newline in an argument must be refused")
	}
}

func TestCleanRoot(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "/", "/": "/", "/tmp/x": "/tmp/x"} {
		if got, err := CleanRoot(in); err != nil || got != want {
			t.Errorf("CleanRoot(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"tmp/x", "/tmp/../etc", "/tmp/x/", "/tmp/a\nb"} {
		if _, err := CleanRoot(bad); err == nil {
			t.Errorf("CleanRoot(%q) should fail", bad)
		}
	}
}

// newLocalHost is a host whose scripts run here with sh, under a fresh
// temporary root, with env (PATH and HOME at least).
func newLocalHost(t *testing.T, env ...string) (*Host, string) {
	t.Helper()
	testutil.Require(t, "sh")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(root, "home"), "USER=alice"}, env...)
	h, err := New(testutil.LocalConn{Env: env}, root, false, "local")
	if err != nil {
		t.Fatal(err)
	}
	return h, root
}

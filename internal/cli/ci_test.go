package cli

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

// ciFleet is a fixture repository without inputs: hosts a and b, profile
// p, a check that passes. Entries of broken replace files to break it.
func ciFleet(t *testing.T, broken map[string]string) string {
	t.Helper()
	files := map[string]string{
		"flake.nix": `{
  outputs = { self }:
    let
      system = "` + nix.System() + `";
      mk = name: script: derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" script ]; };
      host = cfg: {
        config.system.build.toplevel = mk "nixos-system-${cfg.hostName}" "echo ${cfg.hostName} > $out";
      };
    in {
      nixosConfigurations = {
        a = host (import ./hosts/a.nix);
        b = host (import ./hosts/b.nix);
      };
      homeConfigurations.p.activationPackage = mk "home-manager-generation" "echo p > $out";
      checks.${system} = import ./checks.nix { inherit mk; };
    };
}
`,
		"hosts/a.nix": "{ hostName = \"a\"; }\n",
		"hosts/b.nix": "{ hostName = \"b\"; }\n",
		"checks.nix":  "{ mk }:\n{\n  fmt = mk \"fmt-check\" \"echo ok > $out\";\n}\n",
		"nixctl.yaml": `hosts:
  - name: a
    address: 192.0.2.1
  - name: b
    address: 192.0.2.2
profiles:
  - name: p
secrets:
  dir: secrets
  sopsConfig: .sops.yaml
`,
	}
	for k, v := range broken {
		files[k] = v
	}
	return testutil.WriteTree(t, files)
}

// ciRun runs nixctl in-process in dir, in testEnv(env), with runner (nil:
// the real one).
func ciRun(t *testing.T, dir string, env map[string]string, runner execx.Runner, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runDeps(testDeps(dir, env, runner, ui.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}), args...)
	return code, out.String(), errb.String()
}

// JUnit as the reporters read it.
type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			File    string `xml:"file,attr"`
			Line    int    `xml:"line,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("JUnit report is not valid XML: %v\n%s", err, data)
	}
	return doc
}

// failures lists "suite/case: message" for every failed testcase.
func (d junitDoc) failures() map[string]string {
	out := map[string]string{}
	for _, s := range d.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				out[s.Name+"/"+c.Name] = c.Failure.Message
			}
		}
	}
	return out
}

func (d junitDoc) passed(suite string) []string {
	var out []string
	for _, s := range d.Suites {
		if s.Name != suite {
			continue
		}
		for _, c := range s.Cases {
			if c.Failure == nil && c.Skipped == nil {
				out = append(out, c.Name)
			}
		}
	}
	return out
}

// ciEncryptedSecret writes .sops.yaml for a new age key and encrypts
// secrets/db.yaml with the real sops CLI; it returns the key file.
func ciEncryptedSecret(t *testing.T, dir string) string {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys.txt")
	if out, err := exec.Command("age-keygen", "-o", keys).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	pub := ""
	for _, l := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(l, "# public key: "); ok {
			pub = p
		}
	}
	testutil.WriteFiles(t, dir, map[string]string{
		".sops.yaml":      "keys:\n  - &ci " + pub + "\ncreation_rules:\n  - path_regex: secrets/.*\n    key_groups:\n      - age: [*ci]\n",
		"secrets/db.yaml": "password: hunter2\n",
	})
	cmd := exec.Command("sops", "--encrypt", "--in-place", "secrets/db.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sops: %v\n%s", err, out)
	}
	return keys
}

func TestCIGreenRepositoryPasses(t *testing.T) {
	testutil.Require(t, "nix", "sops", "age-keygen")
	dir := ciFleet(t, nil)
	keys := ciEncryptedSecret(t, dir)
	report := filepath.Join(t.TempDir(), "report.xml")
	code, stdout, stderr := ciRun(t, dir, map[string]string{"SOPS_AGE_KEY_FILE": keys}, nil, "ci", "--junit", report)
	if code != exitcode.OK {
		t.Fatalf("exit %d, want 0\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout should stay empty without --json -, got %q", stdout)
	}
	for _, want := range []string{"STAGE", "evaluate", "host a", "profile p", "nixctl ci passed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary on stderr lacks %q:\n%s", want, stderr)
		}
	}
	doc := readJUnit(t, report)
	if doc.Failures != 0 {
		t.Errorf("failures = %d, want 0: %v", doc.Failures, doc.failures())
	}
	for _, suite := range []string{"evaluate", "build"} {
		got := strings.Join(doc.passed(suite), ",")
		if got != "host a,host b,profile p" {
			t.Errorf("%s: passing testcases = %q, want one per host and profile", suite, got)
		}
	}
	if got := strings.Join(doc.passed("flake"), ","); got != "flake nix flake check,check "+nix.System()+".fmt" {
		t.Errorf("flake: passing testcases = %q", got)
	}
	if got := strings.Join(doc.passed("secrets"), ","); got != "secret secrets/db.yaml" {
		t.Errorf("secrets: passing testcases = %q, want the encrypted file", got)
	}
	if !strings.Contains(readFile(t, report), "MAC verified") {
		t.Errorf("with SOPS_AGE_KEY_FILE set the MAC should be checked")
	}
}

func TestCIBrokenRepositoryReportsEveryFailure(t *testing.T) {
	testutil.Require(t, "nix")
	dir := ciFleet(t, map[string]string{
		// A NixOS-style type error that nix flake check lets through.
		"hosts/b.nix": "{\n  hostName = 42;\n}\n",
		"checks.nix": "{ mk }:\n{\n  fmt = mk \"fmt-check\" \"echo ok > $out\";\n" +
			"  lint = mk \"lint-check\" \"echo 'hosts/a.nix: trailing space' >&2; exit 1\";\n}\n",
		".sops.yaml": "creation_rules:\n  - path_regex: secrets/.*\n    age: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
		// Someone committed the decrypted kubeconfig.
		"secrets/kubeconfig/nixos-mini.yml": "apiVersion: v1\nkind: Config\n",
	})
	report := filepath.Join(t.TempDir(), "report.xml")
	jsonReport := filepath.Join(t.TempDir(), "report.json")
	code, _, stderr := ciRun(t, dir, nil, nil, "ci", "--junit", report, "--json", jsonReport)
	// secrets (7) runs before flake (4) and evaluate (8): the first failing
	// stage decides.
	if code != exitcode.Secrets {
		t.Fatalf("exit %d, want %d\n%s", code, exitcode.Secrets, stderr)
	}
	doc := readJUnit(t, report)
	got := doc.failures()
	if len(got) != 3 || doc.Failures != 3 {
		t.Fatalf("failures = %d %v, want exactly the secret, the check and the host", doc.Failures, got)
	}
	if secret := got["secrets/secret secrets/kubeconfig/nixos-mini.yml"]; !strings.HasPrefix(secret, "secrets/kubeconfig/nixos-mini.yml: PLAINTEXT") {
		t.Errorf("secret failure = %q, want its path and PLAINTEXT", secret)
	}
	lint := got["flake/check "+nix.System()+".lint"]
	if !strings.Contains(lint, "checks.nix:4:") || !strings.Contains(lint, "lint-check.drv' failed with exit code 1") || !strings.Contains(lint, "hosts/a.nix: trailing space") {
		t.Errorf("check failure = %q, want its location, nix's message and the builder's last line", lint)
	}
	host := got["evaluate/host b"]
	if !strings.Contains(host, "cannot coerce an integer to a string") || !strings.HasPrefix(host, "flake.nix:7:") {
		t.Errorf("host failure = %q, want the evaluation error with its location", host)
	}
	// The broken host is not built; the others are.
	if p := strings.Join(doc.passed("build"), ","); p != "host a,profile p" || doc.Suites[5].Skipped != 1 {
		t.Errorf("build: passing = %q", p)
	}
	if _, err := os.Stat(jsonReport); err != nil {
		t.Errorf("JSON report not written: %v", err)
	}
}

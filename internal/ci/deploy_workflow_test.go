package ci

import (
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/testutil"
)

var deploySelectors = []string{"nixos-mini", "@servers", "web-*"}

func deployWorkflow(t *testing.T, platform string) (Platform, map[string]any) {
	t.Helper()
	p, ok := LookupPlatform(platform)
	if !ok {
		t.Fatalf("no platform %s", platform)
	}
	p, err := p.WithDeploy(deploySelectors)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(p.Content), &doc); err != nil {
		t.Fatalf("%s workflow with a deploy job is not YAML: %v\n%s", platform, err, p.Content)
	}
	if strings.Contains(p.Content, "StrictHostKeyChecking") || strings.Contains(p.Content, "InsecureIgnoreHostKey") {
		t.Errorf("%s: host key checking must never be weakened", platform)
	}
	return p, doc
}

func mapAt(t *testing.T, v any, path ...string) map[string]any {
	t.Helper()
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: not a mapping at %q", path, k)
		}
		v = m[k]
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is %T, not a mapping", path, v)
	}
	return m
}

// checkDeployCommand: the deploy runs the pinned nixctl on exactly the
// selectors, with the key in an agent and known_hosts from the secrets.
func checkDeployCommand(t *testing.T, run string) {
	t.Helper()
	if out, err := exec.Command("sh", "-n", "-c", run).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v\n%s\n%s", err, out, run)
	}
	inner := run[strings.Index(run, "'")+1 : strings.LastIndex(run, "' nixctl-deploy")]
	if out, err := exec.Command("sh", "-n", "-c", inner).CombinedOutput(); err != nil {
		t.Errorf("sh -n on the inner script: %v\n%s\n%s", err, out, inner)
	}
	for _, want := range []string{
		"nix shell --inputs-from . nixctl nixpkgs#nixos-rebuild nixpkgs#openssh --command sh -euc '",
		`printf "%s\n" "$NIXCTL_SSH_KEY" | ssh-add -`,
		`printf "%s\n" "$NIXCTL_KNOWN_HOSTS" > ~/.ssh/known_hosts`,
		`nixctl deploy "$@" --yes`,
		"' nixctl-deploy 'nixos-mini' '@servers' 'web-*'",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("deploy command lacks %q:\n%s", want, run)
		}
	}
}

// checkActionsWorkflow is what GitHub and Forgejo require of a workflow:
// on, jobs, and each job's runs-on and steps, each step a uses or a run.
func checkActionsWorkflow(t *testing.T, doc map[string]any) {
	t.Helper()
	if doc["on"] == nil {
		t.Error("no on:")
	}
	for name, j := range mapAt(t, doc, "jobs") {
		job := j.(map[string]any)
		if job["runs-on"] == nil {
			t.Errorf("job %s has no runs-on", name)
		}
		steps, ok := job["steps"].([]any)
		if !ok || len(steps) == 0 {
			t.Errorf("job %s has no steps", name)
		}
		for _, s := range steps {
			st := s.(map[string]any)
			if (st["uses"] == nil) == (st["run"] == nil) {
				t.Errorf("job %s: a step needs exactly one of uses and run: %v", name, st)
			}
		}
	}
}

func checkActionsDeployJob(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	checkActionsWorkflow(t, doc)
	job := mapAt(t, doc, "jobs", "deploy")
	if job["needs"] != "nixctl-ci" {
		t.Errorf("deploy must wait for the validation: needs = %v", job["needs"])
	}
	if job["if"] != "github.event_name == 'push' && github.ref_name == github.event.repository.default_branch" {
		t.Errorf("deploy must run on pushes to the default branch only: if = %v", job["if"])
	}
	steps := job["steps"].([]any)
	last := steps[len(steps)-1].(map[string]any)
	env := last["env"].(map[string]any)
	for _, s := range DeploySecrets {
		if env[s] != "${{ secrets."+s+" }}" {
			t.Errorf("%s = %v, want the platform secret", s, env[s])
		}
	}
	checkDeployCommand(t, last["run"].(string))
	return job
}

func TestGitHubDeployJob(t *testing.T) {
	t.Parallel()
	p, doc := deployWorkflow(t, "github")
	job := checkActionsDeployJob(t, doc)
	if job["environment"] != "production" {
		t.Errorf("environment = %v", job["environment"])
	}
	if !strings.Contains(p.Content, "# A GitHub environment guards the secrets") {
		t.Error("the comments must name GitHub environments")
	}
	if c := mapAt(t, job, "concurrency"); c["cancel-in-progress"] != false {
		t.Errorf("a deploy must never be cancelled by the next push: %v", c)
	}
}

func TestForgejoDeployJob(t *testing.T) {
	t.Parallel()
	p, doc := deployWorkflow(t, "forgejo")
	job := checkActionsDeployJob(t, doc)
	if _, ok := job["environment"]; ok {
		t.Error("Forgejo has no environments: the job must not pretend")
	}
	if !strings.Contains(p.Content, "# Forgejo Actions has no protected environments") {
		t.Error("the comments must say what Forgejo offers instead")
	}
}

func TestGitLabDeployJob(t *testing.T) {
	t.Parallel()
	p, doc := deployWorkflow(t, "gitlab")
	// Every job needs a script and a stage GitLab knows (the default
	// stages: .pre, build, test, deploy, .post).
	stages := map[any]int{nil: 2, "build": 1, "test": 2, "deploy": 3}
	for name, j := range doc {
		job, ok := j.(map[string]any)
		if !ok {
			continue
		}
		if _, ok := stages[job["stage"]]; !ok {
			t.Errorf("job %s: unknown stage %v", name, job["stage"])
		}
		if s, ok := job["script"].([]any); !ok || len(s) == 0 {
			t.Errorf("job %s has no script", name)
		}
	}
	job := mapAt(t, doc, "nixctl-deploy")
	if stages[job["stage"]] <= stages[mapAt(t, doc, "nixctl-ci")["stage"]] {
		t.Errorf("deploy must come after the validation stage")
	}
	if needs := job["needs"].([]any); len(needs) != 1 || needs[0] != "nixctl-ci" {
		t.Errorf("needs = %v", needs)
	}
	rules := job["rules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["if"] != "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" {
		t.Errorf("deploy must run on the default branch only: rules = %v", rules)
	}
	if mapAt(t, job, "environment")["name"] != "production" || job["resource_group"] != "nixctl-deploy" {
		t.Errorf("environment %v, resource_group %v", job["environment"], job["resource_group"])
	}
	if !strings.Contains(p.Content, "# GitLab protected environments") {
		t.Error("the comments must name GitLab protected environments")
	}
	// GitLab hands CI/CD variables to the job's environment by name.
	for _, s := range DeploySecrets {
		if !strings.Contains(p.Content, "  "+s+" ") {
			t.Errorf("the comments do not say which variable %s is", s)
		}
	}
	checkDeployCommand(t, job["script"].([]any)[0].(string))
}

func TestDeploySelectorsAreWords(t *testing.T) {
	t.Parallel()
	for _, ok := range [][]string{{"nixos-mini"}, {"@servers", "web-*"}, {"db?"}} {
		if err := CheckDeploySelectors(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range [][]string{nil, {""}, {"web 1"}, {"a'b"}, {"$(reboot)"}, {"-x"}, {"a\nb"}, {"${{ secrets.X }}"}} {
		if err := CheckDeploySelectors(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The GitHub workflow, with and without the deploy job, passes the real
// actionlint (which also runs shellcheck on each run: when installed).
func TestGitHubWorkflowsPassActionlint(t *testing.T) {
	t.Parallel()
	testutil.Require(t, "actionlint")
	plain, _ := LookupPlatform("github")
	withDeploy, _ := deployWorkflow(t, "github")
	for name, content := range map[string]string{"ci": plain.Content, "ci and deploy": withDeploy.Content} {
		cmd := exec.Command("actionlint", "-")
		cmd.Stdin = strings.NewReader(content)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("actionlint on the %s workflow: %v\n%s", name, err, out)
		}
	}
}

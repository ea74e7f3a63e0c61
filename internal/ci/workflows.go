package ci

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nixctl/nixctl/internal/fsx"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Workflows for `nixctl ci init`. Each installs Nix, caches the store where
// the platform allows, runs nixctl ci with the JUnit and JSON reports, and
// publishes them.
//
// Which nixctl runs: the one the repository pins. The fleet's flake.nix
// names nixctl as an input (inputs.nixctl.url = "github:nixctl/nixctl"), so
// flake.lock records its exact revision, and the job runs
//
//	nix run --inputs-from . nixctl -- ci …
//
// which resolves "nixctl" to that locked input. The fleet needs no output
// of its own for it, the CI runs the same nixctl as `nix run --inputs-from .
// nixctl` on the user's machine, and `nix flake update nixctl` is how the
// user moves to a new version (reviewed like any other lock change).

// Report files the workflows write and publish.
const (
	JUnitFile = "nixctl-report.xml"
	JSONFile  = "nixctl-report.json"
)

// nixImage is the container the GitLab and Forgejo jobs run in.
const nixImage = "nixos/nix:2.24.9"

// RunLine is the command every workflow runs.
const RunLine = "nix run --inputs-from . nixctl -- ci --junit " + JUnitFile + " --json " + JSONFile

// Platform is a CI system ci init writes a workflow for.
type Platform struct {
	Name string
	// Path is where the workflow goes, relative to the repository.
	Path    string
	Content string
	// Next says what to do after writing, for the user.
	Next string
	// deployJob is the YAML of the deploy job (see WithDeploy), appended
	// to Content.
	deployJob func(selectors, command string) string
}

// Platforms lists the supported CI systems by name.
func Platforms() []string {
	names := make([]string, 0, len(platforms))
	for n := range platforms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupPlatform returns the named platform.
func LookupPlatform(name string) (Platform, bool) {
	p, ok := platforms[name]
	return p, ok
}

var platforms = map[string]Platform{
	"github": {
		Name: "github", Path: ".github/workflows/nixctl.yml", Content: githubWorkflow, deployJob: githubDeployJob,
		Next: "commit it; failures show as annotations on pull requests and the JUnit report as the \"nixctl ci\" check",
	},
	"gitlab": {
		Name: "gitlab", Path: ".gitlab-ci.yml", Content: gitlabWorkflow, deployJob: gitlabDeployJob,
		Next: "commit it; the JUnit report shows in the pipeline's Tests tab and in merge requests",
	},
	"forgejo": {
		Name: "forgejo", Path: ".forgejo/workflows/nixctl.yml", Content: forgejoWorkflow, deployJob: forgejoDeployJob,
		Next: "commit it; the reports are attached to each run as the nixctl-report artifact",
	},
}

// ErrExists is returned by WriteWorkflow when the file exists and force is off.
var ErrExists = errors.New("workflow file exists")

// WriteWorkflow writes content to path (creating directories), refusing to
// replace an existing file unless force. It never renames over a path that
// is not a regular file.
func WriteWorkflow(w fsx.Writer, path, content string, force bool) error {
	st, err := os.Lstat(path)
	switch {
	case err == nil && !force:
		return fmt.Errorf("%s: %w", path, ErrExists)
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file; nixctl will not replace it", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := w.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return w.WriteFile(path, []byte(content), 0o644)
}

// PinsNixctl reports whether the repository's flake.lock has a root input
// named nixctl, which the workflows run.
func PinsNixctl(repo string) bool {
	data, err := os.ReadFile(filepath.Join(repo, "flake.lock"))
	if err != nil {
		return false
	}
	var lock struct {
		Root  string `json:"root"`
		Nodes map[string]struct {
			Inputs map[string]json.RawMessage `json:"inputs"`
		} `json:"nodes"`
	}
	if json.Unmarshal(data, &lock) != nil {
		return false
	}
	root := lock.Root
	if root == "" {
		root = "root"
	}
	_, ok := lock.Nodes[root].Inputs["nixctl"]
	return ok
}

// PinHint tells the user how to pin nixctl in the fleet's flake.
const PinHint = `add  inputs.nixctl.url = "github:nixctl/nixctl";  to flake.nix and run 'nix flake lock', so CI runs the nixctl your flake.lock pins`

func header(platform string) string {
	return strings.TrimLeft(fmt.Sprintf(`
# Written by 'nixctl ci init %s'. It validates the whole repository in one
# step: the inventory, secrets, nix flake check, the evaluation and build of
# every host and profile. nixctl is the one flake.lock pins (the "nixctl"
# input of flake.nix): 'nix flake update nixctl' moves it.
`, platform), "\n")
}

var githubWorkflow = header("github") + `name: nixctl ci

on:
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read
  checks: write # the JUnit report is published as a check

jobs:
  nixctl-ci:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # Single-user Nix, so that the store can be cached and restored.
      - uses: nixbuild/nix-quick-install-action@v30
        with:
          nix_conf: |
            experimental-features = nix-command flakes
      # /nix is saved to the Actions cache, keyed on the lock file and the
      # Nix sources; garbage is collected above 5 GB before saving.
      - uses: nix-community/cache-nix-action@v6
        with:
          primary-key: nixctl-${{ runner.os }}-${{ hashFiles('flake.lock', '**/*.nix') }}
          restore-prefixes-first-match: nixctl-${{ runner.os }}-
          gc-max-store-size-linux: 5G
      # GITHUB_ACTIONS=true makes nixctl print ::error annotations, shown on
      # the pull request's diff.
      - name: nixctl ci
        run: ` + RunLine + `
      - name: Publish the JUnit report
        if: ${{ !cancelled() }}
        uses: mikepenz/action-junit-report@v5
        with:
          report_paths: ` + JUnitFile + `
          check_name: nixctl ci
          include_passed: true
      - name: Keep the reports
        if: ${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: nixctl-report
          path: |
            ` + JUnitFile + `
            ` + JSONFile + `
`

var gitlabWorkflow = header("gitlab") + `nixctl-ci:
  image: ` + nixImage + `
  variables:
    # The store cannot be cached in place (GitLab caches only paths inside
    # the project), so a local binary cache in .nix-cache is restored as a
    # substituter and refreshed after the job.
    NIX_CONFIG: |
      experimental-features = nix-command flakes
      extra-substituters = file://$CI_PROJECT_DIR/.nix-cache?trusted=1
  cache:
    key:
      files: [flake.lock]
    paths: [.nix-cache/]
  script:
    - ` + RunLine + `
  after_script:
    - nix copy --all --to "file://$CI_PROJECT_DIR/.nix-cache" || true
  artifacts:
    when: always
    paths:
      - ` + JUnitFile + `
      - ` + JSONFile + `
    reports:
      junit: ` + JUnitFile + `
`

var forgejoWorkflow = header("forgejo") + `name: nixctl ci

on:
  push:
    branches: [main]
  pull_request:

jobs:
  nixctl-ci:
    runs-on: docker
    container:
      image: ` + nixImage + `
    env:
      NIX_CONFIG: |
        experimental-features = nix-command flakes
        extra-substituters = file:///tmp/nix-cache?trusted=1
    steps:
      # The actions below are JavaScript: the nix image brings no node.
      - name: Install node for the actions
        run: nix profile install nixpkgs#nodejs
      - uses: https://code.forgejo.org/actions/checkout@v4
      # The store is cached as a local binary cache, restored as a substituter.
      - uses: https://code.forgejo.org/actions/cache@v4
        with:
          path: /tmp/nix-cache
          key: nixctl-${{ hashFiles('flake.lock') }}
          restore-keys: nixctl-
      # Forgejo's runner reads the same ::error commands GitHub does.
      - name: nixctl ci
        run: ` + RunLine + `
      - name: Refresh the Nix cache
        if: ${{ !cancelled() }}
        run: nix copy --all --to file:///tmp/nix-cache || true
      - name: Keep the reports
        if: ${{ !cancelled() }}
        uses: https://code.forgejo.org/actions/upload-artifact@v3
        with:
          name: nixctl-report
          path: |
            ` + JUnitFile + `
            ` + JSONFile + `
`

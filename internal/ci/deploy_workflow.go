package ci

import (
	"fmt"
	"regexp"
	"strings"
)

// The deploy job `nixctl ci init --deploy SELECTOR` adds: after the
// validation job, on pushes to the default branch only, it deploys the
// selected hosts with the nixctl flake.lock pins. Its credentials come from
// the platform's secrets, as environment variables, and never touch the
// disk: the SSH key goes into an ssh-agent that both nixctl and the ssh of
// nixos-rebuild use, known_hosts is written to ~/.ssh/known_hosts so an
// unknown or changed host key stops the deploy (nothing weakens host key
// checking), and sops reads the age key from SOPS_AGE_KEY itself.

// Names of the platform secrets the deploy job reads.
const (
	SecretSSHKey     = "NIXCTL_SSH_KEY"
	SecretKnownHosts = "NIXCTL_KNOWN_HOSTS"
	SecretAgeKey     = "SOPS_AGE_KEY"
)

// DeploySecrets lists them in the order the docs give them.
var DeploySecrets = []string{SecretSSHKey, SecretKnownHosts, SecretAgeKey}

// selectorWord is what a host selector may hold in a workflow: names, globs
// and @tags, nothing a shell or YAML would read differently.
var selectorWord = regexp.MustCompile(`^@?[A-Za-z0-9_][A-Za-z0-9._*?-]*$`)

// CheckDeploySelectors refuses a selector that could not be written into a
// workflow as a plain word.
func CheckDeploySelectors(selectors []string) error {
	if len(selectors) == 0 {
		return fmt.Errorf("--deploy needs a host selector (a name, a glob or @tag)")
	}
	for _, s := range selectors {
		if !selectorWord.MatchString(s) {
			return fmt.Errorf("--deploy %q: a selector is a host name, a glob (web-*) or @tag, made of letters, digits and . _ - * ?", s)
		}
	}
	return nil
}

// deployScript runs inside a nix shell that brings the pinned nixctl,
// nixos-rebuild and OpenSSH; the selectors are its positional arguments.
const deployScript = `eval "$(ssh-agent -s)" >/dev/null
trap "ssh-agent -k >/dev/null" EXIT
printf "%s\n" "$` + SecretSSHKey + `" | ssh-add -
install -d -m 700 ~/.ssh
printf "%s\n" "$` + SecretKnownHosts + `" > ~/.ssh/known_hosts
nixctl deploy "$@" --yes`

// deployCommand is the shell command of the deploy step.
func deployCommand(selectors []string) string {
	var b strings.Builder
	// The single-quoted script is expanded by the inner sh, not here.
	b.WriteString("# shellcheck disable=SC2016 # the inner sh expands the quoted script\n")
	b.WriteString("nix shell --inputs-from . nixctl nixpkgs#nixos-rebuild nixpkgs#openssh --command sh -euc '\n")
	for _, line := range strings.Split(deployScript, "\n") {
		b.WriteString("  " + line + "\n")
	}
	b.WriteString("' nixctl-deploy")
	for _, s := range selectors {
		b.WriteString(" '" + s + "'")
	}
	return b.String()
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// WithDeploy returns the platform's workflow with the deploy job of
// selectors added.
func (p Platform) WithDeploy(selectors []string) (Platform, error) {
	if err := CheckDeploySelectors(selectors); err != nil {
		return p, err
	}
	p.Content += p.deployJob(strings.Join(selectors, " "), deployCommand(selectors))
	p.Next += "; then add the secrets " + strings.Join(DeploySecrets, ", ") + " (see the comments of the deploy job)"
	return p, nil
}

func secretsComment(prefix string) string {
	return indent(strings.TrimSpace(`
Secrets it reads (the deploy key's private half, the hosts' known_hosts
lines, an age key that opens the secrets the deploy checks):
  `+SecretSSHKey+`      ssh-keygen -t ed25519 -f deploy; its .pub in each host's authorized_keys
  `+SecretKnownHosts+`  ssh-keyscan HOST (verify the fingerprints), or your own ~/.ssh/known_hosts lines
  `+SecretAgeKey+`        age-keygen output, its recipient added with nixctl secrets`), prefix+"# ")
}

// actionsDeployStep is the deploy step of GitHub and Forgejo Actions: the
// secrets become the environment of the command.
func actionsDeployStep(command string) string {
	return `      - name: nixctl deploy
        env:
          ` + SecretSSHKey + `: ${{ secrets.` + SecretSSHKey + ` }}
          ` + SecretKnownHosts + `: ${{ secrets.` + SecretKnownHosts + ` }}
          ` + SecretAgeKey + `: ${{ secrets.` + SecretAgeKey + ` }}
        run: |
` + indent(command, "          ") + "\n"
}

func githubDeployJob(selectors, command string) string {
	return `
  # Deploys ` + selectors + ` once nixctl-ci passed, on pushes to the default
  # branch only.
` + secretsComment("  ") + `
  deploy:
    needs: nixctl-ci
    if: github.event_name == 'push' && github.ref_name == github.event.repository.default_branch
    runs-on: ubuntu-latest
    # A GitHub environment guards the secrets: in Settings → Environments,
    # create "production" with required reviewers and deployment branches
    # limited to the default branch, and store the three secrets there (not
    # as repository secrets), so only an approved run of this job gets them.
    environment: production
    concurrency:
      group: nixctl-deploy
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v4
      - uses: nixbuild/nix-quick-install-action@v30
        with:
          nix_conf: |
            experimental-features = nix-command flakes
` + actionsDeployStep(command)
}

func gitlabDeployJob(selectors, command string) string {
	return `
# Deploys ` + selectors + ` once nixctl-ci passed (the test stage runs before
# deploy), on the default branch only.
` + secretsComment("") + `
# Store them under Settings → CI/CD → Variables as protected variables (so
# only protected branches see them) with the environment scope "production".
nixctl-deploy:
  stage: deploy
  image: ` + nixImage + `
  needs: [nixctl-ci]
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  # GitLab protected environments: in Settings → CI/CD → Protected
  # environments, protect "production" and allow only maintainers to deploy
  # (with approvals if you want them).
  environment:
    name: production
  resource_group: nixctl-deploy
  variables:
    NIX_CONFIG: |
      experimental-features = nix-command flakes
  script:
    - |
` + indent(command, "      ") + "\n"
}

func forgejoDeployJob(selectors, command string) string {
	return `
  # Deploys ` + selectors + ` once nixctl-ci passed, on pushes to the default
  # branch only.
` + secretsComment("  ") + `
  # Forgejo Actions has no protected environments (no environment: with
  # reviewers, no secrets scoped to one): repository secrets reach every
  # workflow run on a branch of this repository (not pull requests from
  # forks). Protect the default branch (Settings → Branches) so only
  # reviewed changes reach it, and give the deploy key no more than it needs.
  deploy:
    needs: nixctl-ci
    if: github.event_name == 'push' && github.ref_name == github.event.repository.default_branch
    runs-on: docker
    container:
      image: ` + nixImage + `
    env:
      NIX_CONFIG: |
        experimental-features = nix-command flakes
    steps:
      - name: Install node for the actions
        run: nix profile install nixpkgs#nodejs
      - uses: https://code.forgejo.org/actions/checkout@v4
` + actionsDeployStep(command)
}

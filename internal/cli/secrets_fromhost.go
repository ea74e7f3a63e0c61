package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/ui"
)

// fromHost are the flags of `secrets add kubeconfig --from-host`.
type fromHost struct {
	host          string
	remotePath    string
	remoteCommand string
}

func (o *fromHost) flags(f *pflag.FlagSet) {
	f.StringVar(&o.host, "from-host", "", "fetch the admin kubeconfig from this host of the inventory over SSH")
	f.StringVar(&o.remotePath, "remote-path", "", "with --from-host: read this file on the host")
	f.StringVar(&o.remoteCommand, "remote-command", "", "with --from-host: run this command on the host (default: k0s kubeconfig admin)")
}

func runSecretsAddFromHost(ctx context.Context, opts *secretsAddOptions) error {
	deps := opts.deps
	switch {
	case opts.host == "":
		return fault.Usagef("nixctl secrets add kubeconfig --from-host HOST --remote-path FILE", "--remote-path and --remote-command go with --from-host")
	case opts.kind != "kubeconfig":
		return fault.Usagef("nixctl secrets add kubeconfig --from-host "+opts.host, "--from-host fetches kubeconfigs only, not %q", opts.kind)
	case opts.from != "":
		return fault.Usagef("drop --from: the kubeconfig comes from the host", "--from and --from-host exclude each other")
	case opts.format != "" && opts.format != "yaml":
		return fault.Usagef("drop --format: a kubeconfig is YAML", "--from-host stores YAML, not %s", opts.format)
	case opts.name != "" && opts.name != opts.host:
		return fault.Usagef("nixctl secrets add kubeconfig --from-host "+opts.host, "the kubeconfig of %s is named after it, not %q", opts.host, opts.name)
	}
	src, err := secrets.ParseKubeconfigSource(opts.remotePath, opts.remoteCommand)
	if err != nil {
		return err
	}
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	h, ok := fleet.Host(opts.host)
	if !ok {
		return fault.Usagef("'nixctl inventory list' shows the hosts", "no host named %q in the inventory", opts.host)
	}
	if err := secrets.CheckName("name", h.Name); err != nil {
		return err
	}
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	path, err := s.Repo.Resolve("kubeconfig/" + h.Name + secrets.YAML.Ext())
	if err != nil {
		return err
	}
	io := deps.IO
	ssh, err := deps.SSH()
	if err != nil {
		return err
	}
	target, err := ssh.HostRoute(fleet.Dir, h, "")
	if err != nil {
		return fault.New(fault.Inventory, err, fault.HintOf(err))
	}
	elevate := h.Sudo && target.User != "root"
	io.Logf("fetching the kubeconfig of %s (%s)", h.Name, src)
	raw, err := secrets.FetchKubeconfig(ctx, deps.Hosts(ssh), target, elevate, src)
	if err != nil {
		return err
	}
	plain, err := secrets.RewriteKubeconfig(raw, h.Name, target.HostName)
	if err != nil {
		return fault.Newf(fault.Failure, "check that "+src.String()+" prints an admin kubeconfig on "+h.Name, "%s: %v", h.Name, err)
	}
	res, err := s.Store(path, secrets.YAML, plain, deps.Writer())
	if err != nil {
		return err
	}
	return render(deps, kubeconfigStored{StoreResult: res, host: h.Name, dryRun: deps.Config.DryRun})
}

// kubeconfigStored is a host's kubeconfig written as a secret; its --json
// document is the store's result.
type kubeconfigStored struct {
	*secrets.StoreResult
	host   string
	dryRun bool
}

func (r kubeconfigStored) json() any { return r.StoreResult }

func (r kubeconfigStored) text(io *ui.IO) {
	verb := writeVerb(r.dryRun, r.Replaced, "replace the content of")
	io.Logf("%s %s %s for %s", io.OK(), verb, r.Path, strings.Join(r.Recipients, ", "))
	if !r.Replaced {
		io.Printf("%s", secrets.Declaration("kubeconfig", r.host, r.Path, secrets.YAML))
	}
}

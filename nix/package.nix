# nixctl, built from this repository. flake.nix calls it with a Go that
# satisfies go.mod's go line (the assertion below says so when it does not).
{
  lib,
  stdenv,
  buildGoModule,
  go,
  installShellFiles,
  version ? "dev",
}:

assert lib.assertMsg (lib.versionAtLeast go.version "1.25.8")
  "nixctl needs Go 1.25.8 or newer (go.mod); this nixpkgs gives ${go.version}";

buildGoModule {
  pname = "nixctl";
  inherit version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../go.mod
      ../go.sum
      ../cmd
      ../internal
      ../nix/embed.go
      ../nix/template
      ../nix/demo
    ];
  };

  # The hash of `go mod vendor`. `make test` checks it (nix/package_test.go)
  # and prints the right value when go.mod or go.sum change.
  vendorHash = "sha256-4/GmeqjyWjcXR9otv1GvwopMZV3fERRKWQV1roBtxBA=";

  subPackages = [ "cmd/nixctl" ];
  env.CGO_ENABLED = 0;
  ldflags = [
    "-s"
    "-w"
    "-X github.com/nixctl/nixctl/internal/cli.Version=${version}"
  ];

  # The tests need real sshd, sops and a writable Nix store; `make test` runs them.
  doCheck = false;

  nativeBuildInputs = [ installShellFiles ];

  # Completions and man pages come from the cobra command tree itself.
  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd nixctl \
      --bash <($out/bin/nixctl completion bash) \
      --zsh <($out/bin/nixctl completion zsh) \
      --fish <($out/bin/nixctl completion fish)
    $out/bin/nixctl man man
    installManPage man/*.1
  '';

  meta = {
    description = "Run a Nix estate (NixOS hosts, Home Manager profiles, sops secrets) from one flake";
    homepage = "https://github.com/nixctl/nixctl";
    mainProgram = "nixctl";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}

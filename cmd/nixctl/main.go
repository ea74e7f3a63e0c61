// Command nixctl runs a whole Nix estate from one flake repository.
package main

import (
	"context"
	"os"

	"github.com/nixctl/nixctl/internal/cli"
	"github.com/nixctl/nixctl/internal/ui"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], ui.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// Package nixfiles embeds the Nix trees nixctl ships: the fleet template that
// `nixctl init` writes and the offline demo fleet. It lives in nix/ because an
// embed directive cannot reach a parent folder.
package nixfiles

import (
	"embed"
	"io/fs"
)

//go:embed all:template all:demo
var files embed.FS

// Template is the fleet repository `nixctl init` writes (nix/template).
func Template() fs.FS { return sub("template") }

// Demo is the offline demo fleet (nix/demo).
func Demo() fs.FS { return sub("demo") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return f
}

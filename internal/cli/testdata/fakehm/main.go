// Command home-manager is a fake home-manager for nixctl's script tests. It
// appends its argv to $FAKEHM_LOG, one invocation per line, and answers like
// home-manager 25.05: with $FAKEHM_CLOBBER set (files separated by spaces)
// it refuses to overwrite them and exits 1.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if log := os.Getenv("FAKEHM_LOG"); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
		f.Close()
	}
	if files := strings.Fields(os.Getenv("FAKEHM_CLOBBER")); len(files) > 0 {
		fmt.Println("Starting Home Manager activation")
		fmt.Println("Activating checkFilesChanged")
		fmt.Println("Activating checkLinkTargets")
		for _, f := range files {
			fmt.Fprintf(os.Stderr, "\x1b[1;31mExisting file '%s' would be clobbered\x1b[0m\n", f)
		}
		fmt.Fprintln(os.Stderr, "Please do one of the following:\n- Move or remove the above files and try again.\n- In standalone mode, use 'home-manager switch -b backup' to back up\n  files automatically.")
		os.Exit(1)
	}
	fmt.Println("Starting Home Manager activation")
	fmt.Println("fake home-manager: done")
}

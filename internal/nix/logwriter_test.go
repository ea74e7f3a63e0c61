package nix

import (
	"bytes"
	"io"
	"testing"
)

func TestLogWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := LogWriter(&out)
	in := `@nix {"action":"start","id":1,"level":4,"text":"copying '/tmp/demo-b'","type":0}
@nix {"action":"start","id":2,"level":0,"text":"","type":102}
@nix {"action":"result","fields":[0,1,0,0],"id":3,"type":105}
@nix {"action":"start","id":4,"level":3,"text":"building '/nix/store/abc-nixos-system-web.drv'","type":105}
@nix {"action":"result","fields":["compiling \u001b[1mthings\u001b[0m"],"id":4,"type":101}
@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m builder for '/nix/store/abc.drv' failed with exit code 1"}
@nix {"action":"msg","level":5,"msg":"chatty detail"}
@nix {"action":"stop","id":4}
plain line
@nix not json
`
	// Written in odd pieces, as a pipe delivers it.
	for i := 0; i < len(in); i += 7 {
		if _, err := io.WriteString(w, in[i:min(i+7, len(in))]); err != nil {
			t.Fatal(err)
		}
	}
	want := "building '/nix/store/abc-nixos-system-web.drv'\ncompiling things\nerror: builder for '/nix/store/abc.drv' failed with exit code 1\nplain line\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

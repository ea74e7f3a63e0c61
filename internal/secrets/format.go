package secrets

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"go.yaml.in/yaml/v3"
)

// Format is a sops file format.
type Format string

// The formats of sops files. sops picks the format from the extension
// (case matters: .YAML is binary to sops), so nixctl does the same, with
// sops's own function: .yaml/.yml, .json, .env, .ini, anything else binary.
const (
	YAML   Format = "yaml"
	JSON   Format = "json"
	Dotenv Format = "dotenv"
	INI    Format = "ini"
	Binary Format = "binary"
)

// FormatOf returns the format sops gives path, from its extension.
func FormatOf(path string) Format {
	switch formats.FormatForPath(path) {
	case formats.Yaml:
		return YAML
	case formats.Json:
		return JSON
	case formats.Dotenv:
		return Dotenv
	case formats.Ini:
		return INI
	}
	return Binary
}

// formatFor is the format of path for this session: the --input-type
// given, else the one sops picks from the extension.
func (s *Session) formatFor(path string) Format {
	if s.InputType != "" {
		return s.InputType
	}
	return FormatOf(path)
}

// Ext is the extension nixctl gives a new file of format f.
func (f Format) Ext() string {
	switch f {
	case YAML:
		return ".yml"
	case JSON:
		return ".json"
	case Dotenv:
		return ".env"
	case INI:
		return ".ini"
	}
	return ".bin"
}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, bool) {
	switch Format(s) {
	case YAML, JSON, Dotenv, INI, Binary:
		return Format(s), true
	}
	return "", false
}

// storesConfig reads the stores: section of .sops.yaml (indentation), as
// sops does, so both write the same bytes.
func storesConfig(configPath string) *sopsconfig.StoresConfig {
	if configPath != "" {
		if _, err := os.Stat(configPath); err == nil {
			if sc, err := sopsconfig.LoadStoresConfig(configPath); err == nil {
				return sc
			}
		}
	}
	return sopsconfig.NewStoresConfig()
}

// storeFor returns sops's store for format f.
func storeFor(f Format, sc *sopsconfig.StoresConfig) sops.Store {
	switch f {
	case YAML:
		return sopsyaml.NewStore(&sc.YAML)
	case JSON:
		return sopsjson.NewStore(&sc.JSON)
	case Dotenv:
		return dotenv.NewStore(&sc.Dotenv)
	case INI:
		return ini.NewStore(&sc.INI)
	}
	return sopsjson.NewBinaryStore(&sc.JSONBinary)
}

var dotenvLine = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*=`)

// DetectFormat decides how plaintext input is stored: a JSON object, a YAML
// mapping, dotenv lines, else binary.
func DetectFormat(data []byte) Format {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Binary
	}
	if trimmed[0] == '{' && json.Valid(trimmed) {
		return JSON
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		return YAML
	}
	lines := 0
	for _, l := range strings.Split(string(trimmed), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !dotenvLine.MatchString(l) {
			return Binary
		}
		lines++
	}
	if lines > 0 {
		return Dotenv
	}
	return Binary
}

var lineNumber = regexp.MustCompile(`line \d+`)

// parseProblem describes why plaintext failed to parse without quoting it:
// parser messages can contain a token of the secret.
func parseProblem(f Format, err error) string {
	msg := "not valid " + string(f)
	if m := lineNumber.FindString(err.Error()); m != "" {
		msg += " (" + m + ")"
	}
	return msg
}

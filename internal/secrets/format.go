package secrets

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/getsops/sops/v3"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"go.yaml.in/yaml/v3"
)

// Format is a sops file format.
type Format string

// The formats nixctl stores. sops picks the format from the extension, so
// nixctl does the same: .yaml/.yml, .json, .env, anything else binary.
const (
	YAML   Format = "yaml"
	JSON   Format = "json"
	Dotenv Format = "dotenv"
	Binary Format = "binary"
)

// FormatOf returns the format sops gives path, from its extension.
func FormatOf(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return YAML
	case ".json":
		return JSON
	case ".env":
		return Dotenv
	}
	return Binary
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
	}
	return ".bin"
}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, bool) {
	switch Format(s) {
	case YAML, JSON, Dotenv, Binary:
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

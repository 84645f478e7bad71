package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate/tollgate/internal/redact"
)

// LookupEnv looks up an environment variable; os.LookupEnv satisfies it.
type LookupEnv func(name string) (string, bool)

// Load reads, expands and validates the YAML file at path. Unknown fields
// are errors that name the field and its line; validation lists every
// problem at once.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse decodes YAML onto Default, expands ${VAR} and ${VAR:-default} in
// string values using env (nil means no variables are set), fills per-item
// defaults and validates. name is used in error messages.
func Parse(data []byte, name string, env LookupEnv) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%s: %w", name, cleanYAMLError(err))
	}
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	var problems []error
	expandStrings(reflect.ValueOf(&cfg).Elem(), "", env, &problems)
	cfg.fillDefaults()
	problems = append(problems, cfg.Validate()...)
	if len(problems) > 0 {
		return Config{}, &Error{Source: name, Problems: problems}
	}
	return cfg, nil
}

// Error lists every problem found in one configuration.
type Error struct {
	Source   string
	Problems []error
}

// Error implements error with one problem per line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s) in the configuration:", e.Source, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (e *Error) Unwrap() []error { return e.Problems }

// cleanYAMLError rewords the decoder's type names into config field terms.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			m = strings.Replace(m, " not found in type config.", " is not a known setting in ", 1)
			msgs[i] = m
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return err
}

var secretType = reflect.TypeFor[redact.Secret]()

// expandStrings walks v and replaces ${VAR} references in every string,
// redact.Secret and string map value, recording unset variables.
func expandStrings(v reflect.Value, path string, env LookupEnv, problems *[]error) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			expandStrings(v.Elem(), path, env, problems)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			expandStrings(v.Field(i), joinPath(path, tag), env, problems)
		}
	case reflect.Slice:
		for i := range v.Len() {
			expandStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), env, problems)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			for _, k := range v.MapKeys() {
				elem := reflect.New(v.Type().Elem()).Elem()
				elem.Set(v.MapIndex(k))
				expandStrings(elem, joinPath(path, fmt.Sprint(k)), env, problems)
				v.SetMapIndex(k, elem)
			}
			return
		}
		for _, k := range v.MapKeys() {
			s, err := Expand(v.MapIndex(k).String(), env)
			if err != nil {
				*problems = append(*problems, fmt.Errorf("%s: %w", joinPath(path, fmt.Sprint(k)), err))
			}
			v.SetMapIndex(k, reflect.ValueOf(s).Convert(v.Type().Elem()))
		}
	case reflect.String:
		if !v.CanSet() {
			return
		}
		s, err := Expand(v.String(), env)
		if err != nil {
			*problems = append(*problems, fmt.Errorf("%s: %w", path, err))
		}
		if v.Type() == secretType {
			v.Set(reflect.ValueOf(redact.Secret(s)))
			return
		}
		v.SetString(s)
	}
}

func joinPath(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

// Expand replaces ${NAME} and ${NAME:-fallback} in s with values from env.
// "$${" stands for a literal "${". An unset variable without a fallback is
// an error naming it; the value itself never appears in errors.
func Expand(s string, env LookupEnv) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in value")
		}
		b.WriteString(s[:i])
		ref := s[i+2 : i+end]
		name, fallback, hasFallback := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid environment variable reference ${%s}", ref)
		}
		if v, ok := env(name); ok && v != "" {
			b.WriteString(v)
		} else if hasFallback {
			b.WriteString(fallback)
		} else {
			missing = append(missing, name)
		}
		s = s[i+end+1:]
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

package config

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// Option describes one configuration option.
type Option struct {
	Name string // flag name and file key
	Env  string // environment variable
	Help string
	// secret is the field's `secret` tag: how Display hides a credential ("" = not secret).
	secret string
	field  int
}

// Options lists every option of Config in declaration order.
func Options() []Option {
	t := reflect.TypeFor[Config]()
	out := make([]Option, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("kale")
		if name == "" {
			continue
		}
		out = append(out, Option{Name: name, Env: EnvName(name), Help: f.Tag.Get("help"), secret: f.Tag.Get("secret"), field: i})
	}
	return out
}

// EnvName is the environment twin of a flag: "pickle-tcp" → "KALE_PICKLE_TCP".
func EnvName(flagName string) string {
	return "KALE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (o Option) value(c *Config) reflect.Value { return reflect.ValueOf(c).Elem().Field(o.field) }

// Get formats an option's current value as it would be written on the command line.
func (o Option) Get(c *Config) string {
	v := o.value(c)
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case time.Duration:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// Set parses s into the option. Durations accept Go syntax ("30s", "24h") or plain seconds.
func (o Option) Set(c *Config, s string) error {
	v := o.value(c)
	switch v.Interface().(type) {
	case string:
		v.SetString(s)
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("cannot parse %q as a boolean", s)
		}
		v.SetBool(b)
	case int:
		i, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil {
			return fmt.Errorf("cannot parse %q as an integer", s)
		}
		v.SetInt(int64(i))
	case float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("cannot parse %q as a number", s)
		}
		v.SetFloat(f)
	case time.Duration:
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case []string:
		v.Set(reflect.ValueOf(SplitList(s)))
	default:
		return fmt.Errorf("option %s has an unsupported type %s", o.Name, v.Type())
	}
	return nil
}

// ParseDuration accepts Go durations ("90s", "24h") and plain numbers of seconds ("86400").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %q as a duration (e.g. 30s, 24h, or seconds)", s)
	}
	return d, nil
}

// Source says where an option's value came from.
type Source string

// The sources, lowest precedence first.
const (
	FromDefault Source = "default"
	FromFile    Source = "file"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Resolved is a loaded configuration plus where each value came from.
type Resolved struct {
	*Config
	File     string            // config file read, if any
	Sources  map[string]Source // option name → source
	Warnings []string          // accepted settings that this build does not use
}

// Explicit reports whether the user set the option (by flag, env or file).
func (r *Resolved) Explicit(name string) bool { return r.Sources[name] != FromDefault }

// Binding ties the options to a FlagSet. Flags only record the raw strings they were given;
// Resolve applies them last, after the file and the environment.
type Binding struct {
	fs       *flag.FlagSet
	file     string
	defaults *Config
	raw      map[string]string
}

type rawFlag struct {
	b      *Binding
	name   string
	isBool bool
	def    string
}

func (f *rawFlag) String() string {
	if f == nil || f.b == nil {
		return ""
	}
	if v, ok := f.b.raw[f.name]; ok {
		return v
	}
	return f.def
}
func (f *rawFlag) Set(s string) error { f.b.raw[f.name] = s; return nil }
func (f *rawFlag) IsBoolFlag() bool   { return f.isBool }

// Bind registers --config and every option on fs. defaults may be nil (DefaultConfig()); a
// command passes its own to change a default (e.g. 'kale all' runs on the embedded Redis).
func Bind(fs *flag.FlagSet, defaults *Config) *Binding {
	if defaults == nil {
		defaults = DefaultConfig()
	}
	b := &Binding{fs: fs, defaults: defaults, raw: map[string]string{}}
	fs.StringVar(&b.file, "config", "", "config file (.toml, .yaml or .yml); env KALE_CONFIG")
	for _, o := range Options() {
		_, isBool := o.value(defaults).Interface().(bool)
		fs.Var(&rawFlag{b: b, name: o.Name, isBool: isBool, def: o.Get(defaults)}, o.Name,
			o.Help+" (env "+o.Env+")")
	}
	return b
}

// Resolve builds the configuration after fs.Parse: defaults, then the config file, then KALE_*
// environment variables, then flags; then Validate. lookupEnv is os.LookupEnv outside tests.
func (b *Binding) Resolve(lookupEnv func(string) (string, bool)) (*Resolved, error) {
	c := *b.defaults
	c.SkipList = append([]string(nil), b.defaults.SkipList...)
	r := &Resolved{Config: &c, Sources: map[string]Source{}}
	for _, o := range Options() {
		r.Sources[o.Name] = FromDefault
	}
	file := b.file
	if file == "" {
		file, _ = lookupEnv("KALE_CONFIG")
	}
	if file != "" {
		if err := loadFile(r, file); err != nil {
			return nil, err
		}
	}
	for _, o := range Options() {
		if s, ok := lookupEnv(o.Env); ok {
			if err := o.Set(r.Config, s); err != nil {
				return nil, fmt.Errorf("invalid %s: %w", o.Env, err)
			}
			r.Sources[o.Name] = FromEnv
		}
	}
	for _, o := range Options() {
		if s, ok := b.raw[o.Name]; ok {
			if err := o.Set(r.Config, s); err != nil {
				return nil, fmt.Errorf("invalid --%s: %w", o.Name, err)
			}
			r.Sources[o.Name] = FromFlag
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func loadFile(r *Resolved, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read config file: %w", err)
	}
	m := map[string]any{}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".toml":
		if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
			return fmt.Errorf("cannot parse config file %q: %w", path, err)
		}
	case ".yaml", ".yml":
		if err := yaml.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("cannot parse config file %q: %w", path, err)
		}
	default:
		return fmt.Errorf("cannot read config file %q: extension %q is not .toml, .yaml or .yml", path, ext)
	}
	r.File = path
	byName := map[string]Option{}
	for _, o := range Options() {
		byName[o.Name] = o
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors and Skyline-name application order
	// Kale names first, then Skyline names, so that e.g. HORIZON_IP applies to ports set by name.
	var skyline []string
	for _, k := range keys {
		o, ok := byName[k]
		if !ok {
			skyline = append(skyline, k)
			continue
		}
		if err := o.Set(r.Config, fileString(m[k])); err != nil {
			return fmt.Errorf("invalid %q in %s: %w", k, path, err)
		}
		r.Sources[o.Name] = FromFile
	}
	return applySkyline(r, m, skyline, path)
}

// fileString turns a decoded TOML/YAML value into the string an option's Set parses.
func fileString(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

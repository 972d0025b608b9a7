package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Env is a set of environment variables by name. Load reads only the
// names that start with EnvPrefix. Tests pass literal maps so they never
// touch the process environment.
type Env map[string]string

// Environ returns the process environment's BULWARK_* variables.
func Environ() Env {
	env := Env{}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) {
			env[name] = value
		}
	}
	return env
}

// testEnvPrefix names variables the test suite reads (BULWARK_TEST_LOG);
// they are not configuration, and a developer who exported one for a test
// run must still be able to start the server.
const testEnvPrefix = EnvPrefix + "TEST_"

// Load returns Default with the YAML file at path and then env applied on
// top. An empty path means no file. A key with an empty (null) value in the
// file keeps its default.
//
// Every scalar key can be overridden by its environment variable
// (Key.Env); list keys (clients, users) by a variable holding a whole YAML
// or JSON document, which replaces the list. An environment variable that
// starts with EnvPrefix but names no key is an error, so a misspelt
// override cannot silently leave a default in place.
//
// Load reports every unknown key, duplicate key, wrongly typed value and
// unknown variable at once as Problems; an unreadable file is a plain
// error. It does not check what the values mean: call Validate for that.
func Load(path string, env Env) (*File, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return load(path, data, env)
}

// load is Load without the file system.
func load(name string, data []byte, env Env) (*File, error) {
	f := Default()
	f.origin = map[string]string{}
	d := &decoder{origin: f.origin}
	if name != "" {
		d.document(name, data, reflect.ValueOf(f).Elem())
	}
	d.environment(env, reflect.ValueOf(f).Elem())
	if err := d.problems.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// Key describes one configuration key that can be set from the
// environment.
type Key struct {
	// Path is the key's dotted path in the YAML file ("tokens.par_ttl").
	Path string
	// Env is the environment variable that overrides it.
	Env string
	// Document reports that the key is a list, set from the environment
	// as one YAML or JSON document rather than a scalar.
	Document bool

	index []int
	typ   reflect.Type
}

// Keys returns every key of the schema, in file order. It is derived from
// File's yaml tags, so a field added to File is loadable, overridable and
// listed here without further code.
func Keys() []Key { return slices.Clone(schema()) }

var schema = sync.OnceValue(func() []Key {
	return schemaOf(reflect.TypeFor[File](), "", nil)
})

// schemaOf lists the leaf keys below struct type t. Nested structs are
// sections (tls, tokens, …) and are walked; everything else is a leaf.
func schemaOf(t reflect.Type, prefix string, index []int) []Key {
	var keys []Key
	for i := range t.NumField() {
		sf := t.Field(i)
		name := yamlName(sf)
		if name == "" {
			continue
		}
		path := joinKey(prefix, name)
		idx := append(slices.Clone(index), i)
		if sf.Type.Kind() == reflect.Struct {
			keys = append(keys, schemaOf(sf.Type, path, idx)...)
			continue
		}
		keys = append(keys, Key{
			Path:     path,
			Env:      EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_")),
			Document: sf.Type.Kind() == reflect.Slice,
			index:    idx,
			typ:      sf.Type,
		})
	}
	return keys
}

// yamlName returns the key of an exported field with a yaml tag, or "".
func yamlName(sf reflect.StructField) string {
	if !sf.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// decoder walks YAML nodes into a File, collecting problems under full key
// paths instead of stopping at the first, and recording where each key was
// set.
type decoder struct {
	origin   map[string]string
	problems Problems
	// at renders the source of a node on line; it is "file:line" for the
	// file and the variable's name for an environment document.
	at func(line int) string
}

func (d *decoder) add(key string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Key: key, Message: fmt.Sprintf(format, args...), Source: d.at(line)})
}

// document decodes the configuration file data into root.
func (d *decoder) document(name string, data []byte, root reflect.Value) {
	d.at = func(line int) string { return name + ":" + strconv.Itoa(line) }
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return // An empty file configures nothing.
	} else if err != nil {
		d.problems = append(d.problems, Problem{Key: name, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		d.problems = append(d.problems, Problem{Key: name, Message: "must hold exactly one YAML document"})
		return
	}
	d.section(doc.Content[0], root, "")
}

// environment applies the BULWARK_* variables of env to root.
func (d *decoder) environment(env Env, root reflect.Value) {
	known := map[string]bool{}
	for _, k := range schema() {
		known[k.Env] = true
		s, ok := env[k.Env]
		if !ok {
			continue
		}
		d.at = func(int) string { return k.Env }
		d.forget(k.Path)
		d.origin[k.Path] = k.Env
		v := root.FieldByIndex(k.index)
		if !k.Document {
			if msg := setScalar(v, s); msg != "" {
				d.add(k.Path, 0, "%s", msg)
			}
			continue
		}
		// The document replaces the file's list; merging entries by
		// position would be surprising.
		v.SetZero()
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			d.add(k.Path, 0, "must be a YAML or JSON document: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			continue
		}
		if len(doc.Content) > 0 {
			d.value(doc.Content[0], v, k.Path)
		}
	}
	var unknown []string
	for name := range env {
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && !strings.HasPrefix(name, testEnvPrefix) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		d.problems = append(d.problems, Problem{Key: name, Message: "unknown environment variable: no configuration key has this name"})
	}
}

// forget drops the recorded sources of key and everything below it, whose
// values an environment override just replaced.
func (d *decoder) forget(key string) {
	for k := range d.origin {
		if k == key || strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			delete(d.origin, k)
		}
	}
}

// pair is one entry of a YAML mapping.
type pair struct {
	name string
	key  *yaml.Node
	val  *yaml.Node
}

// mapping returns n's entries, reporting a non-mapping, non-string keys
// and duplicate keys. ok is false when n is not a mapping at all.
func (d *decoder) mapping(n *yaml.Node, path string) (pairs []pair, ok bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.add(orRoot(path), n.Line, "must be a mapping of keys to values")
		return nil, false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := resolve(n.Content[i])
		if kn.Kind != yaml.ScalarNode {
			d.add(orRoot(path), kn.Line, "keys must be plain strings")
			continue
		}
		kp := joinKey(path, kn.Value)
		if first, dup := seen[kn.Value]; dup {
			d.add(kp, kn.Line, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[kn.Value] = kn.Line
		d.origin[kp] = d.at(kn.Line)
		pairs = append(pairs, pair{name: kn.Value, key: kn, val: n.Content[i+1]})
	}
	return pairs, true
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

// section decodes mapping n into struct v, whose fields are named by their
// yaml tags.
func (d *decoder) section(n *yaml.Node, v reflect.Value, path string) {
	pairs, _ := d.mapping(n, path)
	for _, p := range pairs {
		kp := joinKey(path, p.name)
		sf, ok := fieldByYAMLName(v.Type(), p.name)
		if !ok {
			d.add(kp, p.key.Line, "unknown key")
			continue
		}
		fv := v.FieldByIndex(sf.Index)
		if sf.Type.Kind() == reflect.Struct {
			d.section(p.val, fv, kp)
		} else {
			d.value(p.val, fv, kp)
		}
	}
}

func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if sf := t.Field(i); yamlName(sf) == name {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

// entryDecoder is implemented by list entries (clients, users) that decode
// themselves from a mapping node and report problems below their path.
type entryDecoder interface {
	decodeEntry(d *decoder, n *yaml.Node, path string)
}

// value decodes a leaf: a scalar, or a list of entryDecoder entries.
// A null value leaves v as it is.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if v.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			d.add(path, n.Line, "must be a list")
			return
		}
		list := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.origin[ip] = d.at(item.Line)
			if ed, ok := list.Index(i).Addr().Interface().(entryDecoder); ok {
				ed.decodeEntry(d, item, ip)
				continue
			}
			// A list of scalars, such as mtls.trusted_proxies.
			if item = resolve(item); item.Kind != yaml.ScalarNode {
				d.add(ip, item.Line, "must be a single value, not a list or mapping")
			} else if msg := setScalar(list.Index(i), item.Value); msg != "" {
				d.add(ip, item.Line, "%s", msg)
			}
		}
		v.Set(list)
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.add(path, n.Line, "must be a single value, not a list or mapping")
		return
	}
	if msg := setScalar(v, n.Value); msg != "" {
		d.add(path, n.Line, "%s", msg)
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// setScalar parses s into v the same way for the file and the environment,
// and returns a problem message or "".
func setScalar(v reflect.Value, s string) string {
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return "must be a duration with a unit, such as 90s, 5m or 720h"
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return "must be a whole number"
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return "must be true or false"
		}
		v.SetBool(b)
	default:
		// Unreachable for File's field types; TestKeysCoverFile keeps it so.
		return fmt.Sprintf("has unsupported type %s", v.Type())
	}
	return ""
}

// resolve follows YAML aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

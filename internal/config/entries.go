package config

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/bulwarkauth/bulwark/internal/clients"
)

// Entry keys that are not part of clients.Client's metadata or a user's
// claims.
const (
	keyClientSecret = "client_secret"
	keyUsername     = "username"
	keyPassword     = "password"
	keySubject      = "subject"
)

var (
	_ entryDecoder = (*Client)(nil)
	_ entryDecoder = (*User)(nil)
)

// clientFields maps clients.Client's JSON names to field indexes. The
// client metadata vocabulary is owned by package clients; configuration
// follows it.
var clientFields = sync.OnceValue(func() map[string]int {
	t := reflect.TypeFor[clients.Client]()
	m := map[string]int{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.IsExported() && name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
})

// decodeEntry decodes one clients[] entry. Each value goes through JSON
// into its clients.Client field, so it means exactly what it means in a
// stored or dynamically registered client, and jwks keeps its JSON form.
func (c *Client) decodeEntry(d *decoder, n *yaml.Node, path string) {
	pairs, _ := d.mapping(n, path)
	md := reflect.ValueOf(&c.Metadata).Elem()
	for _, p := range pairs {
		kp := path + "." + p.name
		d.recordBelow(kp, p.val)
		if p.name == keyClientSecret {
			c.Secret, _ = d.str(p.val, kp)
			continue
		}
		idx, ok := clientFields()[p.name]
		if !ok {
			d.add(kp, p.key.Line, "unknown key")
			continue
		}
		if isNull(resolve(p.val)) {
			// An empty value means "not set", as everywhere else; a
			// JSON null in jwks would otherwise count as present.
			continue
		}
		raw, ok := d.toJSON(p.val, kp)
		if !ok {
			continue
		}
		field := md.Field(idx)
		if err := json.Unmarshal(raw, field.Addr().Interface()); err != nil {
			d.add(kp, p.val.Line, "must be %s", describe(field.Type()))
		}
	}
}

// decodeEntry decodes one users[] entry: username, password and subject
// are the account, every other key is a claim.
func (u *User) decodeEntry(d *decoder, n *yaml.Node, path string) {
	pairs, _ := d.mapping(n, path)
	for _, p := range pairs {
		kp := path + "." + p.name
		d.recordBelow(kp, p.val)
		switch p.name {
		case keyUsername:
			u.Username, _ = d.str(p.val, kp)
		case keyPassword:
			u.Password, _ = d.str(p.val, kp)
		case keySubject:
			u.Subject, _ = d.str(p.val, kp)
		default:
			if isNull(resolve(p.val)) {
				continue
			}
			raw, ok := d.toJSON(p.val, kp)
			if !ok {
				continue
			}
			var v any
			// Cannot fail: raw was just marshalled from a plain value.
			_ = json.Unmarshal(raw, &v)
			if u.Claims == nil {
				u.Claims = map[string]any{}
			}
			u.Claims[p.name] = v
		}
	}
}

// str decodes a scalar as a string; YAML's typing of unquoted scalars
// (123, true) does not matter for a string key.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.add(path, n.Line, "must be a string")
		return "", false
	}
	return n.Value, true
}

// toJSON converts a YAML value to JSON, which is how client metadata and
// claims are stored.
func (d *decoder) toJSON(n *yaml.Node, path string) ([]byte, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		d.add(path, n.Line, "cannot be decoded: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		d.add(path, n.Line, "cannot be represented as JSON (mapping keys must be strings)")
		return nil, false
	}
	return raw, true
}

// recordBelow records the source line of every mapping key and list item
// below n, so a problem deep inside an entry points at its own line.
func (d *decoder) recordBelow(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			kp := path + "." + n.Content[i].Value
			d.origin[kp] = d.at(n.Content[i].Line)
			d.recordBelow(kp, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			ip := path + "[" + strconv.Itoa(i) + "]"
			d.origin[ip] = d.at(item.Line)
			d.recordBelow(ip, item)
		}
	}
}

// describe names a metadata field's expected shape for a problem message.
func describe(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings"
	default:
		return "a JSON value of type " + t.String()
	}
}

package config

import "strings"

// Problem is one thing wrong with the configuration, named by the key an
// operator has to change.
type Problem struct {
	// Key is the configuration key path ("tokens.par_ttl",
	// "clients[0].redirect_uris[1]"), or the name of an unknown
	// environment variable.
	Key string
	// Message says what is wrong. It never repeats the configured value,
	// which may be a secret or a DSN with a password in it.
	Message string
	// Source is where the value was set: "file:line", an environment
	// variable name, or empty for built-in defaults.
	Source string
}

// Error renders the problem as "key: message (source)".
func (p Problem) Error() string {
	s := p.Key + ": " + p.Message
	if p.Source != "" {
		s += " (" + p.Source + ")"
	}
	return s
}

// Problems is every problem found at once, so an operator fixes a
// configuration in one round. Load and Validate return it as their error;
// callers retrieve it with errors.As to print one line per problem.
type Problems []Problem

// Error renders one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Keys returns the key of every problem, in order.
func (ps Problems) Keys() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Key
	}
	return out
}

// err returns ps as an error, or a true nil when there are none: a nil
// Problems stored in an error interface would not compare equal to nil.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

package store

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one numbered, forward-only schema step of a SQL back end.
// Files are named NNNN_description.sql and never edited once released: a
// schema change is a new file, so every database reaches the same schema
// by the same steps.
type Migration struct {
	// Version is the step's number, counting from 1 without gaps.
	Version int
	// Name is the file name, recorded next to the version.
	Name string
	// SQL is the step's statements.
	SQL string
}

// Migrations reads the *.sql files at the root of fsys (a back end's
// embedded migrations directory) in version order. A mis-named file, a gap
// or a duplicate is an error, so a mis-numbered file fails every test
// instead of being skipped in production.
func Migrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || path.Ext(e.Name()) != ".sql" {
			return nil, fmt.Errorf("store: migration %q is not named NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("store: migration %q: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migration %q: want version %d", m.Name, i+1)
		}
	}
	return out, nil
}

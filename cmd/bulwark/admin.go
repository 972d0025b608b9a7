package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/config"
)

// adminFlags are the connection and output flags every admin subcommand
// shares.
type adminFlags struct {
	server, token string
	json          bool
	limit         int
	after         string
	env           config.Env
}

// newAdminCommand is "bulwark admin": a client of the admin API of a
// running server.
func newAdminCommand(env config.Env) *cobra.Command {
	f := &adminFlags{env: env}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage clients, users, consents, keys and sessions of a running server",
		Long: "Call the admin API of a running server. Authenticate with an admin token (--token or\n" +
			"BULWARK_ADMIN_TOKEN) or an access token with the admin scope. Output is a table, or the\n" +
			"API's JSON with --json.",
		Args: noArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "base URL of the server (default: BULWARK_ADMIN_SERVER, else BULWARK_ISSUER, else http://127.0.0.1:8080)")
	pf.StringVar(&f.token, "token", "", "admin token or admin-scoped access token (default: BULWARK_ADMIN_TOKEN)")
	pf.BoolVar(&f.json, "json", false, "print the API's JSON instead of a table")
	pf.IntVar(&f.limit, "limit", 0, "page size of list commands (default: the server's, 100)")
	pf.StringVar(&f.after, "after", "", "cursor of list commands: the next value printed by the previous page")

	clients := &cobra.Command{Use: "clients", Short: "Registered clients", Args: noArgs}
	clients.AddCommand(
		f.leaf("list", "List clients", 0, func(a []string) (string, string, any) { return "GET", "/admin/clients" + f.page(nil), nil },
			[]string{"client_id", "client_name", "profile", "token_endpoint_auth_method", "static", "dynamic"}),
		f.leaf("get CLIENT_ID", "Show one client", 1, func(a []string) (string, string, any) { return "GET", "/admin/clients/" + url.PathEscape(a[0]), nil }, nil),
		f.fileLeaf("create", "Create a client from RFC 7591 metadata (JSON file, - for stdin); a secret is printed once", 0,
			func(a []string) (string, string) { return "POST", "/admin/clients" }),
		f.fileLeaf("update CLIENT_ID", "Replace a client's metadata (JSON file, - for stdin)", 1,
			func(a []string) (string, string) { return "PUT", "/admin/clients/" + url.PathEscape(a[0]) }),
		f.leaf("rotate-secret CLIENT_ID", "Draw a new client secret, printed once", 1, func(a []string) (string, string, any) {
			return "POST", "/admin/clients/" + url.PathEscape(a[0]) + "/secret", nil
		}, nil),
		f.leaf("delete CLIENT_ID", "Delete a client, revoking its grants, tokens and consents", 1, func(a []string) (string, string, any) {
			return "DELETE", "/admin/clients/" + url.PathEscape(a[0]), nil
		}, nil),
	)

	var username, password, subject string
	users := &cobra.Command{Use: "users", Short: "End-user accounts", Args: noArgs}
	create := f.leaf("create", "Create a user (password from --password or the first line of stdin)", 0, func(a []string) (string, string, any) {
		return "POST", "/admin/users", map[string]string{"username": username, "password": password, "subject": subject}
	}, nil)
	create.Flags().StringVar(&username, "username", "", "login name")
	create.Flags().StringVar(&subject, "subject", "", "stable sub claim (default: drawn)")
	create.Flags().StringVar(&password, "password", "", "password (default: read from stdin)")
	create.PreRunE = func(cmd *cobra.Command, _ []string) error { return readPassword(cmd, &password) }
	var newPassword string
	reset := f.leaf("reset-password SUBJECT", "Set a new password (--password or stdin) and end the user's sessions", 1, func(a []string) (string, string, any) {
		return "POST", "/admin/users/" + url.PathEscape(a[0]) + "/password", map[string]string{"password": newPassword}
	}, nil)
	reset.Flags().StringVar(&newPassword, "password", "", "new password (default: read from stdin)")
	reset.PreRunE = func(cmd *cobra.Command, _ []string) error { return readPassword(cmd, &newPassword) }
	users.AddCommand(
		f.leaf("list", "List users", 0, func(a []string) (string, string, any) { return "GET", "/admin/users" + f.page(nil), nil },
			[]string{"subject", "username", "disabled"}),
		f.leaf("get SUBJECT", "Show one user", 1, func(a []string) (string, string, any) { return "GET", "/admin/users/" + url.PathEscape(a[0]), nil }, nil),
		create, reset,
		f.leaf("disable SUBJECT", "Disable a user: no login, sessions ended, grants revoked", 1, func(a []string) (string, string, any) {
			return "POST", "/admin/users/" + url.PathEscape(a[0]) + "/disable", nil
		}, nil),
		f.leaf("enable SUBJECT", "Enable a disabled user", 1, func(a []string) (string, string, any) {
			return "POST", "/admin/users/" + url.PathEscape(a[0]) + "/enable", nil
		}, nil),
	)

	var cSubject, cClient string
	consents := &cobra.Command{Use: "consents", Short: "Remembered consents", Args: noArgs}
	clist := f.leaf("list", "List the consents of --subject or --client", 0, func(a []string) (string, string, any) {
		return "GET", "/admin/consents" + f.page(url.Values{"subject": {cSubject}, "client_id": {cClient}}), nil
	}, []string{"subject", "client_id", "scope", "granted_at"})
	crevoke := f.leaf("revoke", "Revoke the consent of --subject to --client, and its tokens", 0, func(a []string) (string, string, any) {
		return "DELETE", "/admin/consents?" + url.Values{"subject": {cSubject}, "client_id": {cClient}}.Encode(), nil
	}, nil)
	for _, c := range []*cobra.Command{clist, crevoke} {
		c.Flags().StringVar(&cSubject, "subject", "", "the user's subject")
		c.Flags().StringVar(&cClient, "client", "", "the client_id")
	}
	consents.AddCommand(clist, crevoke)

	var ahead, retire time.Duration
	keys := &cobra.Command{Use: "keys", Short: "Signing keys", Args: noArgs}
	rotate := f.leaf("rotate", "Add new signing keys (as bulwark keys rotate, through the API)", 0, func(a []string) (string, string, any) {
		return "POST", "/admin/keys/rotate", map[string]string{"publish_ahead": ahead.String(), "retire_after": retire.String()}
	}, nil)
	rotate.Flags().DurationVar(&ahead, "publish-ahead", 10*time.Minute, "how long the new key is published before it signs")
	rotate.Flags().DurationVar(&retire, "retire-after", time.Hour, "how long the old key stays published once the new one signs")
	keys.AddCommand(
		f.leaf("list", "List signing keys", 0, func(a []string) (string, string, any) { return "GET", "/admin/keys", nil },
			[]string{"kid", "alg", "active_from", "retired_at"}),
		rotate,
	)

	var sSubject string
	sessions := &cobra.Command{Use: "sessions", Short: "Browser sessions", Args: noArgs}
	slist := f.leaf("list", "List the sessions of --subject", 0, func(a []string) (string, string, any) {
		return "GET", "/admin/sessions" + f.page(url.Values{"subject": {sSubject}}), nil
	}, []string{"id", "subject", "auth_time", "expires_at"})
	slist.Flags().StringVar(&sSubject, "subject", "", "the user's subject")
	sessions.AddCommand(slist, f.leaf("end SESSION_ID", "End one session", 1, func(a []string) (string, string, any) {
		return "DELETE", "/admin/sessions/" + url.PathEscape(a[0]), nil
	}, nil))

	var action string
	audit := f.leaf("audit", "Show the audit log, newest first", 0, func(a []string) (string, string, any) {
		return "GET", "/admin/audit" + f.page(url.Values{"action": {action}}), nil
	}, []string{"time", "action", "actor", "target", "outcome"})
	audit.Flags().StringVar(&action, "action", "", "only events of this action (client.create, consent.revoke, …)")

	cmd.AddCommand(clients, users, consents, keys, sessions, audit)
	return cmd
}

// page adds the paging flags to q as a query string.
func (f *adminFlags) page(q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	for k, v := range q {
		if len(v) == 1 && v[0] == "" {
			delete(q, k)
		}
	}
	if f.limit > 0 {
		q.Set("limit", fmt.Sprint(f.limit))
	}
	if f.after != "" {
		q.Set("after", f.after)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// leaf is a subcommand that makes one API call; cols are the table
// columns of a list answer (nil prints the object's fields).
func (f *adminFlags) leaf(use, short string, nargs int, req func(args []string) (method, path string, body any), cols []string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			method, path, body := req(args)
			var rd io.Reader
			if body != nil {
				b, err := json.Marshal(body)
				if err != nil {
					return err
				}
				rd = bytes.NewReader(b)
			}
			return f.do(cmd, method, path, rd, cols)
		},
	}
}

// fileLeaf is a subcommand that sends a JSON document from --file.
func (f *adminFlags) fileLeaf(use, short string, nargs int, req func(args []string) (method, path string)) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			switch file {
			case "":
				return usageError{err: errors.New("--file is required"), command: cmd.CommandPath()}
			case "-":
				b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
			default:
				b, err = os.ReadFile(file)
			}
			if err != nil {
				return err
			}
			method, path := req(args)
			return f.do(cmd, method, path, bytes.NewReader(b), nil)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "JSON `file` with the client metadata (- reads stdin)")
	return c
}

func readPassword(cmd *cobra.Command, p *string) error {
	if *p != "" {
		return nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	*p = strings.TrimRight(line, "\r\n")
	return nil
}

func (f *adminFlags) serverURL() string {
	for _, s := range []string{f.server, f.env["BULWARK_ADMIN_SERVER"], f.env["BULWARK_ISSUER"]} {
		if s != "" {
			return strings.TrimSuffix(s, "/")
		}
	}
	return "http://127.0.0.1:8080"
}

// do calls the API and prints the answer.
func (f *adminFlags) do(cmd *cobra.Command, method, path string, body io.Reader, cols []string) error {
	tok := f.token
	if tok == "" {
		tok = f.env["BULWARK_ADMIN_TOKEN"]
	}
	if tok == "" {
		return usageError{err: errors.New("no admin token: pass --token or set BULWARK_ADMIN_TOKEN"), command: cmd.CommandPath()}
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, f.serverURL()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin: read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return fmt.Errorf("admin: %s %s: %s: %s", method, path, e.Error, e.Description)
	}
	out := cmd.OutOrStdout()
	if resp.StatusCode == http.StatusNoContent {
		fmt.Fprintln(out, "done")
		return nil
	}
	if f.json {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("admin: answer is not JSON: %w", err)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return printTable(out, b, cols)
}

// printTable prints a list answer ({"items": [...], "next": ...}) as a
// table of cols, and any other object as key-value lines.
func printTable(out io.Writer, b []byte, cols []string) error {
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("admin: answer is not a JSON object: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	items, isList := obj["items"].([]any)
	if isList && cols != nil {
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
		for _, it := range items {
			m, _ := it.(map[string]any)
			var cells []string
			for _, c := range cols {
				cells = append(cells, cell(m[c]))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if next, _ := obj["next"].(string); next != "" {
			fmt.Fprintf(tw, "next page: --after %s\n", next)
		}
		return tw.Flush()
	}
	for _, k := range sortedKeys(obj) {
		fmt.Fprintf(tw, "%s\t%s\n", k, cell(obj[k]))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return x
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

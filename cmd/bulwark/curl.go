package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/client"
)

// exitHTTPError is curl's exit status for --fail on an HTTP error (22).
const exitHTTPError = 22

// curlFlags are the curl options bulwark curl understands.
type curlFlags struct {
	method        string
	headers       []string
	data          []string
	dataURLEncode []string
	include       bool
	output        string
	silent        bool
	fail          bool
}

// newCurlCommand is "bulwark curl".
func newCurlCommand(deps clientDeps) *cobra.Command {
	var f curlFlags
	cmd := &cobra.Command{
		Use:   "curl [flags] URL",
		Short: "Send an HTTP request with the profile's access token",
		Long: "Send a request like curl, authorized with the profile's access token: in dpop mode\n" +
			"as \"Authorization: DPoP\" with a fresh DPoP proof bound to the method, URL and token;\n" +
			"otherwise as a Bearer token (over the client certificate in mtls mode). The token is\n" +
			"refreshed when needed. The response body goes to stdout. Redirects are not followed.",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{err: fmt.Errorf("want exactly one URL, got %d arguments", len(args)), command: c.CommandPath()}
			}
			return nil
		},
	}
	pf := addProfileFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.method, "request", "X", "", "request `method` (default GET, or POST with data)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "extra header \"Name: value\" (repeatable)")
	fl.StringArrayVarP(&f.data, "data", "d", nil, "request body; @file reads a file, @- stdin; several are joined with & (repeatable)")
	fl.StringArrayVar(&f.dataURLEncode, "data-urlencode", nil, "URL-encoded body part: content, name=content, @file or name@file (repeatable)")
	fl.BoolVarP(&f.include, "include", "i", false, "include the status line and response headers in the output")
	fl.StringVarP(&f.output, "output", "o", "", "write the output to `file` instead of stdout")
	fl.BoolVarP(&f.silent, "silent", "s", false, "print no notes on stderr (errors are still printed)")
	fl.BoolVarP(&f.fail, "fail", "f", false, "on an HTTP error (>= 400) print no body and exit with status 22")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := pf.resolve(deps)
		if err != nil {
			return err
		}
		req, err := f.request(cmd, args[0], s.InsecureAllowHTTP)
		if err != nil {
			return err
		}
		c, err := s.clientConfig(deps)
		if err != nil {
			return err
		}
		cache, closeCache, err := s.openCache(cmd.Context())
		if err != nil {
			return err
		}
		defer closeCache()
		hc := c.Client(cmd.Context(), c.CachedTokenSource(cmd.Context(), cache, s.cacheKey(), nil))
		// Like curl without -L. A redirect would also carry the token
		// to wherever the Location points.
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := hc.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return s.describe(err)
		}
		defer resp.Body.Close()
		return f.write(cmd, resp)
	}
	return cmd
}

// request builds the request from the flags.
func (f *curlFlags) request(cmd *cobra.Command, rawURL string, allowHTTP bool) (*http.Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("curl: %q is not an absolute http(s) URL", rawURL)
	}
	if u.Scheme == "http" && !allowHTTP {
		return nil, fmt.Errorf("curl: refusing to send a token over plain http to %s; pass --insecure-allow-http for a development server", u.Host)
	}
	body, hasBody, err := f.body(cmd.InOrStdin())
	if err != nil {
		return nil, err
	}
	method := f.method
	if method == "" {
		method = http.MethodGet
		if hasBody {
			method = http.MethodPost
		}
	}
	var r io.Reader
	if hasBody {
		r = bytes.NewReader(body) // sets GetBody, so a DPoP nonce retry can resend it
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("curl: %w", err)
	}
	req.Header.Set("User-Agent", "bulwark-curl")
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
		if !ok || name == "" {
			return nil, fmt.Errorf("curl: header %q is not \"Name: value\"", h)
		}
		if name == "Authorization" || name == "Dpop" {
			return nil, fmt.Errorf("curl: header %s is set by bulwark curl from the profile's token", name)
		}
		req.Header.Add(name, strings.TrimSpace(value))
	}
	if hasBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, nil
}

// body joins -d and --data-urlencode values with & as curl does.
func (f *curlFlags) body(stdin io.Reader) ([]byte, bool, error) {
	if len(f.data) == 0 && len(f.dataURLEncode) == 0 {
		return nil, false, nil
	}
	read := func(name string) ([]byte, error) {
		if name == "-" {
			return io.ReadAll(stdin)
		}
		return os.ReadFile(name)
	}
	var parts []string
	for _, d := range f.data {
		if file, ok := strings.CutPrefix(d, "@"); ok {
			b, err := read(file)
			if err != nil {
				return nil, false, fmt.Errorf("curl: --data: %w", err)
			}
			// curl -d @file drops carriage returns and newlines.
			d = strings.NewReplacer("\r", "", "\n", "").Replace(string(b))
		}
		parts = append(parts, d)
	}
	for _, d := range f.dataURLEncode {
		name, content := "", d
		switch i := strings.IndexAny(d, "=@"); {
		case i < 0:
		case d[i] == '=':
			name, content = d[:i], d[i+1:]
		default:
			b, err := read(d[i+1:])
			if err != nil {
				return nil, false, fmt.Errorf("curl: --data-urlencode: %w", err)
			}
			name, content = d[:i], string(b)
		}
		part := url.QueryEscape(content)
		if name != "" {
			part = name + "=" + part
		}
		parts = append(parts, part)
	}
	return []byte(strings.Join(parts, "&")), true, nil
}

// write prints the response as curl would.
func (f *curlFlags) write(cmd *cobra.Command, resp *http.Response) error {
	stderr := cmd.ErrOrStderr()
	if f.fail && resp.StatusCode >= 400 {
		if !f.silent {
			fmt.Fprintf(stderr, "bulwark: curl: the requested URL returned error: %s\n", resp.Status)
			challengeNote(stderr, resp)
		}
		return exitStatus(exitHTTPError)
	}
	out := cmd.OutOrStdout()
	var file *os.File
	if f.output != "" && f.output != "-" {
		var err error
		if file, err = os.OpenFile(f.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return fmt.Errorf("curl: %w", err)
		}
		defer file.Close() // after an error; the Close below reports one
		out = file
	}
	if f.include {
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		names := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(out, "%s: %s\r\n", k, v)
			}
		}
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("curl: reading the response: %w", err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("curl: %w", err)
		}
	}
	if !f.silent {
		challengeNote(stderr, resp)
	}
	return nil
}

// challengeNote explains a 401 or 403 from its WWW-Authenticate
// challenges (RFC 6750 §3, RFC 9449 §7.1).
func challengeNote(w io.Writer, resp *http.Response) {
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return
	}
	for _, ch := range client.ParseChallenges(resp.Header.Values("Www-Authenticate")) {
		if e := ch.Params["error"]; e != "" {
			fmt.Fprintf(w, "bulwark: curl: the resource server refused the token (%s %s: %s)\n", ch.Scheme, e, ch.Params["error_description"])
			return
		}
	}
}

package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestValidateAdmin(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(f *File)
		wantKeys []string
	}{
		{name: "ok/listen", mutate: func(f *File) { f.Admin.Listen = "127.0.0.1:8081" }},
		{name: "ok/base-url", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "https://admin.auth.example.com"
		}},
		{name: "ok/base-url-with-path", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "https://ops.example.com/bulwark"
		}},
		{name: "ok/base-url-loopback-http", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "http://127.0.0.1:8081"
		}},
		{name: "fail/listen-same-as-listen", mutate: func(f *File) { f.Admin.Listen = f.Listen }, wantKeys: []string{"admin.listen"}},
		{name: "fail/base-url-without-listen", mutate: func(f *File) { f.Admin.BaseURL = "https://admin.auth.example.com" }, wantKeys: []string{"admin.base_url"}},
		{name: "fail/base-url-plain-http", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "http://admin.auth.example.com"
		}, wantKeys: []string{"admin.base_url"}},
		{name: "fail/base-url-trailing-slash", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "https://admin.auth.example.com/"
		}, wantKeys: []string{"admin.base_url"}},
		{name: "fail/base-url-query", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "https://admin.auth.example.com?x=1"
		}, wantKeys: []string{"admin.base_url"}},
		{name: "fail/base-url-relative", mutate: func(f *File) {
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "/admin"
		}, wantKeys: []string{"admin.base_url"}},
		{name: "fail/base-url-http-loopback-with-tls", mutate: func(f *File) {
			f.Issuer, f.TLS = "https://auth.example.com", TLS{CertFile: "c.pem", KeyFile: "k.pem"}
			f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "http://127.0.0.1:8081"
		}, wantKeys: []string{"admin.base_url"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := validFile()
			tc.mutate(f)
			if diff := cmp.Diff(tc.wantKeys, problemKeys(t, f.Validate()), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAdminBaseURLReachesServer(t *testing.T) {
	f := validFile()
	f.Admin.Listen, f.Admin.BaseURL = "127.0.0.1:8081", "https://admin.auth.example.com"
	cfg, err := f.AuthServer()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Listen != "127.0.0.1:8081" || cfg.Admin.BaseURL != "https://admin.auth.example.com" {
		t.Errorf("admin config = %+v", cfg.Admin)
	}
}

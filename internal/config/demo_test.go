package config

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

func demoKey(t *testing.T) json.RawMessage {
	t.Helper()
	k, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.Public().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestWithDemo(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(f *File)
		wantErr  error
		wantKeys []string
	}{
		{name: "ok/defaults", mutate: func(f *File) {}},
		{name: "ok/localhost", mutate: func(f *File) { f.Issuer = "http://localhost:8080" }},
		{name: "ok/with-configured-identities", mutate: func(f *File) {
			g := validFile()
			g.Users[0].Username = "carol"
			f.Clients, f.Users = g.Clients, g.Users
		}},
		{name: "fail/public-issuer", mutate: func(f *File) { f.Issuer = "https://auth.example.com" }, wantErr: ErrDemoNotLoopback},
		{name: "fail/private-network-issuer", mutate: func(f *File) { f.Issuer = "http://192.168.1.2:8080" }, wantErr: ErrDemoNotLoopback},
		{name: "fail/configured-demo-names", mutate: func(f *File) {
			g := validFile()
			g.Clients[0].Metadata.ID = DemoSecretClientID
			g.Users[0].Username = DemoUsername
			f.Clients, f.Users = g.Clients, g.Users
		}, wantKeys: []string{"clients[4].client_id", "users[1].username"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Default()
			tc.mutate(f)
			nClients, nUsers := len(f.Clients), len(f.Users)
			got, err := f.WithDemo(demoKey(t))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WithDemo error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(f.Clients) != nClients || len(f.Users) != nUsers {
				t.Error("WithDemo modified its receiver")
			}
			if len(got.Clients) != nClients+3 || len(got.Users) != nUsers+1 {
				t.Fatalf("demo added %d clients and %d users, want 3 and 1", len(got.Clients)-nClients, len(got.Users)-nUsers)
			}
			err = got.Validate()
			if diff := cmp.Diff(tc.wantKeys, problemKeys(t, err), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s\nerror:\n%v", diff, err)
			}
			var ps Problems
			if errors.As(err, &ps) && ps[0].Source != demoSource {
				t.Errorf("problem with a demo identity has source %q, want %q", ps[0].Source, demoSource)
			}
		})
	}
}

func TestWithDemoIdentities(t *testing.T) {
	f, err := Default().WithDemo(demoKey(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.AuthServer()
	if err != nil {
		t.Fatal(err)
	}
	type identity struct{ ID, Profile, Method, Secret string }
	var got []identity
	for _, c := range cfg.Clients {
		got = append(got, identity{c.Client.ID, c.Client.ProfileName, c.Client.AuthMethod, c.Secret})
	}
	want := []identity{
		{DemoPublicClientID, "standard", "none", ""},
		{DemoSecretClientID, "standard", "client_secret_basic", DemoClientSecret},
		{DemoFAPIClientID, "fapi2", "private_key_jwt", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("demo clients (-want +got):\n%s", diff)
	}
	if u := cfg.Users[0]; u.Username != DemoUsername || u.Password != DemoPassword || u.Claims["name"] != "Alice Liddell" {
		t.Errorf("demo user = %+v", u)
	}
}

// Command bulwark runs the Bulwark FAPI 2.0 authorization server, its API
// gateway, its Backend-for-Frontend, and a command-line OAuth client.
//
// Usage:
//
//	bulwark serve [--config FILE] [--dev]   run the authorization server
//	bulwark gateway [--config FILE]         run the API gateway in front of the configured routes
//	bulwark bff [--config FILE]             run the Backend-for-Frontend (sessions, login, API proxy)
//	bulwark config check [--config FILE]    validate a configuration and list every problem
//	bulwark migrate [--config FILE]         apply pending schema migrations and exit
//	bulwark keys rotate|list                add signing keys with a schedule; list them
//	bulwark admin clients|users|consents|keys|sessions|audit ...
//	                                        manage a running server over its admin API (--server, --token, --json)
//	bulwark version                         print the module and Go versions
//
// The client commands share the profile flags (--profile, --issuer,
// --client-id, --auth-method, --auth-mode dpop|mtls|bearer, --scopes,
// --cache file|redis://…, and the credential files):
//
//	bulwark login [--device] [--no-browser] [--save]   log in and cache the tokens
//	bulwark token [--json]                             print a valid access token, refreshing as needed
//	bulwark curl [-X M] [-H H] [-d D] [-i] [-o F] [-s] [-f] URL
//	                                                   send a request with the bound token and a fresh proof
//	bulwark logout [--forget-key]                      revoke the tokens and delete them from the cache
//
// Profiles are JSON files in the user configuration directory
// (BULWARK_CONFIG_DIR), DPoP keys beside them, and tokens in the user
// cache directory (BULWARK_CACHE_DIR) or the Redis of --cache.
//
// The configuration is a YAML file with BULWARK_* environment overrides;
// package internal/config documents every key. Without --config the
// built-in defaults apply: a plain-HTTP issuer on 127.0.0.1:8080 and a
// SQLite database under ./bulwark-data.
//
// serve --dev adds a demo user (alice) and three demo clients, writes the
// FAPI client's fresh private key to ./bulwark-data/demo-fapi-key.json and
// prints a curl walkthrough of the authorization code flow. It refuses to
// run unless the issuer is a loopback address, because the demo
// credentials are published.
//
// Exit status: 0 on success, 1 on a runtime failure or when config check
// finds problems, 2 when serve is given an invalid configuration or
// invalid flags.
//
// This package is wiring only: it reads flags and the environment, and
// hands them to internal/config, the store back ends, internal/authserver,
// internal/gateway and the client package.
package main

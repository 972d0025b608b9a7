// Command bulwark runs the Bulwark FAPI 2.0 authorization server.
//
// Usage:
//
//	bulwark serve [--config FILE] [--dev]   run the authorization server
//	bulwark config check [--config FILE]    validate a configuration and list every problem
//	bulwark version                         print the module and Go versions
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
// hands them to internal/config, the store back ends and
// internal/authserver.
package main

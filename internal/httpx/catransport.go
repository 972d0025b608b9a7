package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// CATransport returns a clone of http.DefaultTransport that speaks TLS 1.2
// or later and, when caFile is set, trusts only the PEM certificates in
// it instead of the system roots (for an issuer behind a private CA).
func CATransport(caFile string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return t, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("httpx: CA file: %w", err)
	}
	t.TLSClientConfig.RootCAs = x509.NewCertPool()
	if !t.TLSClientConfig.RootCAs.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("httpx: CA file %s holds no PEM certificate", caFile)
	}
	return t, nil
}

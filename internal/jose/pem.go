package jose

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePEMSigner parses a PEM private key (PKCS #8, SEC 1 or PKCS #1)
// for signing client assertions. The strength rules are applied when the
// key is wrapped with NewExternalKey.
func ParsePEMSigner(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("jose: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("jose: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("jose: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("jose: the PEM key cannot sign")
	}
	return s, nil
}

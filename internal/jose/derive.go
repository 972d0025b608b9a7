package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
)

// DeriveSecret derives a 32-byte secret for label from the private key
// (HMAC-SHA256 keyed with the key's private encoding). Every node that
// shares the key derives the same secret, so cluster-wide values such as
// DPoP nonces need no extra shared state; a different label yields an
// unrelated secret, and the secret reveals nothing about the key.
func (k *PrivateKey) DeriveSecret(label string) ([]byte, error) {
	var material []byte
	switch pk := k.jwk.Key.(type) {
	case *ecdsa.PrivateKey:
		b, err := pk.Bytes()
		if err != nil {
			return nil, err
		}
		material = b
	case ed25519.PrivateKey:
		material = pk.Seed()
	case *rsa.PrivateKey:
		material = x509.MarshalPKCS1PrivateKey(pk)
	default:
		return nil, errors.New("jose: cannot derive a secret from this key type")
	}
	m := hmac.New(sha256.New, material)
	m.Write([]byte("bulwark derived secret\x00" + label))
	return m.Sum(nil), nil
}

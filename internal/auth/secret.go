// Package auth owns tollgate's API keys: the secret format, hashing at rest,
// masking for display, the Principal a request runs as (with its IP
// allow-list and limits), Cache, the in-memory key table the request path
// authenticates against without touching the store, and GroupCache, the
// same for groups.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// SecretPrefix starts every tollgate API key secret.
const SecretPrefix = "sk-tg-"

// secretBodyLen is the number of base62 characters after SecretPrefix.
// 40 characters of base62 carry 40*log2(62) ≈ 238 bits of entropy.
const secretBodyLen = 40

// SecretLen is the length in bytes of a well-formed secret.
const SecretLen = len(SecretPrefix) + secretBodyLen

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewSecret returns a new API key secret: SecretPrefix followed by 40
// base62 characters drawn uniformly from crypto/rand. The secret is shown
// to its owner once; only Hash(secret) and its last 4 characters are kept.
func NewSecret() (string, error) {
	b := make([]byte, SecretLen)
	copy(b, SecretPrefix)
	var pool [64]byte
	n := len(SecretPrefix)
	for n < SecretLen {
		if _, err := rand.Read(pool[:]); err != nil {
			return "", fmt.Errorf("auth: new secret: %w", err)
		}
		for _, r := range pool {
			// Reject bytes >= 248 (4*62) so every character is equally likely.
			if r >= 4*62 || n == SecretLen {
				continue
			}
			b[n] = base62[r%62]
			n++
		}
	}
	return string(b), nil
}

// NewKeyID returns a new public key ID: "key_" followed by 16 lowercase hex
// characters (64 random bits).
func NewKeyID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: new key id: %w", err)
	}
	return "key_" + hex.EncodeToString(b[:]), nil
}

// Hash returns the lowercase hex SHA-256 of secret, the form in which keys
// are stored. A fast, unsalted hash is the right choice here: secrets are
// random with about 238 bits of entropy, so neither brute force nor
// precomputed tables are feasible, and a slow password hash (bcrypt,
// argon2) would only add latency to every request. Being deterministic, the
// hash also serves as the lookup index.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Mask returns the display form of a key given its last 4 characters, e.g.
// "sk-tg-...abcd".
func Mask(last4 string) string {
	return SecretPrefix + "..." + last4
}

// Last4 returns the last 4 characters of secret (all of it if shorter), the
// part stored for masked display.
func Last4(secret string) string {
	if len(secret) <= 4 {
		return secret
	}
	return secret[len(secret)-4:]
}

// LooksLikeKey reports whether s has the shape of a tollgate secret:
// SecretPrefix followed by exactly 40 base62 characters. It is cheap and
// does not allocate; use it to tell a malformed credential from an unknown
// one.
func LooksLikeKey(s string) bool {
	if len(s) != SecretLen || s[:len(SecretPrefix)] != SecretPrefix {
		return false
	}
	for i := len(SecretPrefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

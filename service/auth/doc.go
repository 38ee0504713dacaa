// Package auth holds chatd's account secrets: argon2id password hashes in
// the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash), with a
// cap on concurrent hashes because each one is deliberately CPU- and
// memory-hard, and session tokens (32 random bytes, base64url to the client,
// only their SHA-256 ever stored). It does no I/O beyond crypto/rand.
package auth

// Package httpsig signs and verifies HTTP requests with the two schemes
// the fediverse uses:
//
//   - draft-cavage HTTP Signatures (draft-cavage-http-signatures-12) the
//     way Mastodon, GoToSocial, Pleroma and Misskey use them: RSA-SHA256
//     keys, the rsa-sha256 and hs2019 algorithm names, a Digest header over
//     the body and a bounded Date window;
//   - RFC 9421 HTTP Message Signatures, as Mastodon 4.5+, Fedify, Bonfire
//     and WordPress send them: rsa-v1_5-sha256, rsa-pss-sha512 and ed25519,
//     a Content-Digest (RFC 9530, sha-256 or sha-512) over the body, and
//     created/expires in the same window.
//
// Verification is split in two so the cheap checks run before any key is
// fetched: [Check] parses the signature headers, requires the components
// that must be signed, checks the digest against the body and the time
// against the window, and returns a [Signed] request; [Signed.Verify] then
// checks the signature with a public key. A request with Signature-Input
// is judged by RFC 9421 alone.
//
// [Signer] signs with the relay's RSA key under either scheme, or with
// its Ed25519 key under RFC 9421 ([Kind]).
package httpsig

// Package httpsig signs and verifies HTTP requests with draft-cavage HTTP
// Signatures (draft-cavage-http-signatures-12) the way Mastodon, GoToSocial,
// Pleroma and Misskey use them: RSA-SHA256 keys, the rsa-sha256 and hs2019
// algorithm names, a Digest header over the body and a bounded Date window.
//
// Verification is split in two so the cheap checks run before any key is
// fetched: [Check] parses the Signature header, requires the headers that
// must be signed, checks the Digest against the body and the Date against
// the window, and returns a [Signed] request; [Signed.Verify] then checks the
// signature with a public key.
package httpsig

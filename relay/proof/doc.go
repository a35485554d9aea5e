// Package proof creates and verifies FEP-8b32 object integrity proofs: W3C
// Data Integrity proofs (type DataIntegrityProof) with the eddsa-jcs-2022
// cryptosuite of "Data Integrity EdDSA Cryptosuites v1.0", as Fedify, Mitra,
// streams and others attach them to ActivityPub activities under "proof".
// It also reads and writes FEP-521a Multikeys: Ed25519 keys as base58-btc
// multibase strings ("z6Mk…" public, "z3u2…" private).
//
// The hash that is signed is SHA-256(JCS(proofConfig)) followed by
// SHA-256(JCS(document)), where JCS is the RFC 8785 canonical form, the
// document is the object without its "proof" (and, per FEP-8b32, without a
// legacy Linked Data "signature", which a proof therefore does not cover),
// and proofConfig is the proof without its proofValue. [Sign] copies the document's "@context" into the proof, as the
// Recommendation advises. [Verify] accepts a proof that carries "@context"
// only when it equals the document's (the Recommendation allows the
// document's to extend it; this package does not, so that every byte that
// reaches the caller is covered). A proof without "@context" is tried twice:
// with the document's "@context" copied into the proof configuration, as
// Fedify signs, and as it stands, as the 2023 FEP-8b32 test vector and
// signers that skip the Recommendation's advised step sign. Both readings
// cover the whole document, so accepting either grants nothing more.
//
// JSON is parsed strictly before anything is hashed: duplicate object names,
// invalid UTF-8, unpaired UTF-16 surrogate escapes, numbers outside the
// IEEE-754 double range, trailing data and nesting deeper than [MaxDepth]
// are refused, so there is one reading of what was signed. Documents larger
// than [MaxDocumentSize] are refused unread.
//
// This package checks signatures only. Whether a verification method belongs
// to the actor that owns the object (FEP-8b32's ownership rule, FEP-521a's
// assertionMethod) is for the caller, through the [Resolver] it passes to
// [Verify] and the proofs Verify returns. Only the top-level proof is
// checked; an embedded object with its own proof is verified separately.
package proof

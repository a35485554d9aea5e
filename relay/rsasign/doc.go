// Package rsasign signs SHA-256 digests with RSA PKCS#1 v1.5, the
// rsa-sha256 signature every fediverse HTTP signature carries, with one of
// two backends behind the same [Key] interface.
//
// Why two backends: a relay signs every delivery of every activity to every
// subscriber, so RSA signing bounds how fast it can fan out. Go's
// crypto/rsa ([Go]) is portable, constant-time and needs nothing but the Go
// toolchain; the system's OpenSSL 3 libcrypto ([OpenSSL], through cgo) does
// the modular exponentiation in assembly and signs about three times as
// many digests per second on the same cores (see BenchmarkRate). The two
// produce byte-identical signatures (PKCS#1 v1.5 is deterministic), so they
// are interchangeable on the wire.
//
// How one is chosen: the OpenSSL backend is compiled in only with the cgo
// build tag (the default where a C compiler is present; CGO_ENABLED=0 leaves
// it out and the binary stays static). It loads libcrypto.so.3 at run time
// (dlopen), so building needs no OpenSSL headers, and a binary runs where
// the library is missing, signing with Go. [New] with backend "" takes
// OpenSSL when it is compiled in, libcrypto loads ([Available]) and it
// loads the key, and Go otherwise; [New] with [Go] or [OpenSSL] forces one, and a
// forced OpenSSL that cannot be used is an error matching [ErrUnavailable].
// [Rate] measures what a key sustains with every core busy, the bound of a
// fan-out.
package rsasign

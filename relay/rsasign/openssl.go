//go:build cgo

package rsasign

/*
#cgo pkg-config: libcrypto
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "rsasign needs OpenSSL 3"
#endif

// OpenSSL's error queue belongs to the OS thread, and a goroutine can move
// to another thread between two cgo calls. So every operation runs in one C
// call, which clears the queue first and, on failure, returns the name of
// the step that failed and the queue's first error code in *err.

static const char *rs_fail(const char *step, unsigned long *err) {
	*err = ERR_get_error();
	ERR_clear_error();
	return step;
}

// rs_probe checks that the default provider gives SHA-256 and RSA.
static const char *rs_probe(unsigned long *err) {
	ERR_clear_error();
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (md == NULL)
		return rs_fail("EVP_MD_fetch(SHA256)", err);
	EVP_MD_free(md);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL)
		return rs_fail("EVP_PKEY_CTX_new_from_name(RSA)", err);
	EVP_PKEY_CTX_free(ctx);
	return NULL;
}

// rs_load parses a PKCS#1 DER RSA private key into *out.
static const char *rs_load(const unsigned char *der, long len, EVP_PKEY **out, unsigned long *err) {
	ERR_clear_error();
	*out = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &der, len);
	if (*out == NULL)
		return rs_fail("d2i_PrivateKey", err);
	return NULL;
}

// rs_sign writes the PKCS#1 v1.5 signature of a SHA-256 digest to sig,
// whose size is *siglen on entry; *siglen is the signature's length after.
static const char *rs_sign(EVP_PKEY *pkey, const unsigned char *dgst, size_t dlen,
                           unsigned char *sig, size_t *siglen, unsigned long *err) {
	const char *step = NULL;
	ERR_clear_error();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL)
		return rs_fail("EVP_PKEY_CTX_new_from_pkey", err);
	if (EVP_PKEY_sign_init(ctx) <= 0)
		step = "EVP_PKEY_sign_init";
	else if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
		step = "EVP_PKEY_CTX_set_rsa_padding";
	else if (EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0)
		step = "EVP_PKEY_CTX_set_signature_md";
	else if (EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) <= 0)
		step = "EVP_PKEY_sign";
	EVP_PKEY_CTX_free(ctx);
	return step == NULL ? NULL : rs_fail(step, err);
}
*/
import "C"

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// sslError turns a failed step and its OpenSSL error code into an error.
func sslError(step *C.char, code C.ulong) error {
	if code == 0 {
		return fmt.Errorf("openssl %s failed (no error queued)", C.GoString(step))
	}
	var buf [256]C.char
	C.ERR_error_string_n(code, &buf[0], C.size_t(len(buf)))
	return fmt.Errorf("openssl %s: %s", C.GoString(step), C.GoString(&buf[0]))
}

// probe runs once per process: whether libcrypto answers, and its version.
var probe = sync.OnceValues(func() (bool, string) {
	var code C.ulong
	if step := C.rs_probe(&code); step != nil {
		return false, sslError(step, code).Error()
	}
	return true, C.GoString(C.OpenSSL_version(C.OPENSSL_VERSION))
})

// Available reports whether the [OpenSSL] backend can be used in this
// binary. why is the OpenSSL version (e.g. "OpenSSL 3.0.19 ...") when it
// can, and the reason when it cannot.
func Available() (ok bool, why string) {
	return probe()
}

// sslKey is the OpenSSL backend. pkey is shared read-only by every
// SignSHA256 call (OpenSSL 3 allows that across threads) and freed by a
// cleanup once the sslKey is unreachable.
type sslKey struct {
	pkey *C.EVP_PKEY
	size int
	pub  rsa.PublicKey
}

// NewOpenSSL returns k as a [Key] on the system's libcrypto. It fails with
// an error matching [ErrUnavailable] when libcrypto does not answer or
// cannot load the key, and with [ErrNoKey] for a nil or invalid k.
func NewOpenSSL(k *rsa.PrivateKey) (Key, error) {
	if err := checkKey(k); err != nil {
		return nil, err
	}
	if ok, why := Available(); !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, why)
	}
	der := x509.MarshalPKCS1PrivateKey(k)
	var pkey *C.EVP_PKEY
	var code C.ulong
	step := C.rs_load((*C.uchar)(unsafe.Pointer(unsafe.SliceData(der))), C.long(len(der)), &pkey, &code)
	clear(der) // the DER copy holds the private key
	if step != nil {
		return nil, fmt.Errorf("%w: loading key: %w", ErrUnavailable, sslError(step, code))
	}
	s := &sslKey{pkey: pkey, size: k.Size(), pub: k.PublicKey}
	if n := int(C.EVP_PKEY_get_size(pkey)); n != s.size {
		C.EVP_PKEY_free(pkey)
		return nil, fmt.Errorf("%w: loaded key signs %d bytes, want %d", ErrUnavailable, n, s.size)
	}
	runtime.AddCleanup(s, func(p *C.EVP_PKEY) { C.EVP_PKEY_free(p) }, pkey)
	return s, nil
}

// SignSHA256 implements [Key].
func (s *sslKey) SignSHA256(digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: got %d", ErrDigestSize, len(digest))
	}
	sig := make([]byte, s.size)
	n := C.size_t(len(sig))
	var code C.ulong
	step := C.rs_sign(s.pkey, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n, &code)
	runtime.KeepAlive(s) // pkey must outlive the call
	if step != nil {
		return nil, fmt.Errorf("rsasign: %w", sslError(step, code))
	}
	return sig[:n], nil
}

// Backend implements [Key].
func (*sslKey) Backend() string { return OpenSSL }

// Public implements [Key].
func (s *sslKey) Public() *rsa.PublicKey {
	pub := s.pub
	return &pub
}

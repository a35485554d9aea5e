//go:build cgo

package rsasign

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

// libcrypto is loaded at run time (dlopen), so that building needs no
// OpenSSL headers and a binary runs, signing with Go, where libcrypto.so.3
// is missing. Only OpenSSL 3's ABI is used: its version is checked.

typedef struct {
	unsigned long (*OpenSSL_version_num)(void);
	const char *(*OpenSSL_version)(int);
	unsigned long (*ERR_get_error)(void);
	void (*ERR_clear_error)(void);
	void (*ERR_error_string_n)(unsigned long, char *, size_t);
	void *(*d2i_PrivateKey)(int, void **, const unsigned char **, long);
	int (*EVP_PKEY_get_size)(const void *);
	void (*EVP_PKEY_free)(void *);
	void *(*EVP_PKEY_CTX_new_from_pkey)(void *, void *, const char *);
	void (*EVP_PKEY_CTX_free)(void *);
	int (*EVP_PKEY_sign_init)(void *);
	int (*EVP_PKEY_CTX_set_rsa_padding)(void *, int);
	int (*EVP_PKEY_CTX_set_signature_md)(void *, const void *);
	const void *(*EVP_sha256)(void);
	int (*EVP_PKEY_sign)(void *, unsigned char *, size_t *, const unsigned char *, size_t);
} rs_lib;

static rs_lib L;

#define RS_EVP_PKEY_RSA 6
#define RS_RSA_PKCS1_PADDING 1

// rs_open loads libcrypto.so.3 and its functions; it returns NULL, or what
// failed.
static const char *rs_open(void) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return "libcrypto.so.3 not found (install libssl3)";
#define RS_SYM(name) if ((*(void **)&L.name = dlsym(h, #name)) == NULL) return "libcrypto lacks " #name;
	RS_SYM(OpenSSL_version_num) RS_SYM(OpenSSL_version) RS_SYM(ERR_get_error) RS_SYM(ERR_clear_error)
	RS_SYM(ERR_error_string_n) RS_SYM(d2i_PrivateKey) RS_SYM(EVP_PKEY_get_size) RS_SYM(EVP_PKEY_free)
	RS_SYM(EVP_PKEY_CTX_new_from_pkey) RS_SYM(EVP_PKEY_CTX_free) RS_SYM(EVP_PKEY_sign_init)
	RS_SYM(EVP_PKEY_CTX_set_rsa_padding) RS_SYM(EVP_PKEY_CTX_set_signature_md) RS_SYM(EVP_sha256)
	RS_SYM(EVP_PKEY_sign)
#undef RS_SYM
	if (L.OpenSSL_version_num() >> 28 != 3)
		return "libcrypto is not OpenSSL 3";
	return NULL;
}

static const char *rs_version(void) { return L.OpenSSL_version(0); }

static void rs_error_string(unsigned long code, char *buf, size_t len) { L.ERR_error_string_n(code, buf, len); }

// OpenSSL's error queue belongs to the OS thread, and a goroutine can move
// to another thread between two cgo calls. So every operation runs in one C
// call, which clears the queue first and, on failure, returns the name of
// the step that failed and the queue's first error code in *err.
static const char *rs_fail(const char *step, unsigned long *err) {
	*err = L.ERR_get_error();
	L.ERR_clear_error();
	return step;
}

// rs_load parses a PKCS#1 DER RSA private key into *out.
static const char *rs_load(const unsigned char *der, long len, void **out, unsigned long *err) {
	L.ERR_clear_error();
	*out = L.d2i_PrivateKey(RS_EVP_PKEY_RSA, NULL, &der, len);
	if (*out == NULL)
		return rs_fail("d2i_PrivateKey", err);
	return NULL;
}

static int rs_size(void *pkey) { return L.EVP_PKEY_get_size(pkey); }

static void rs_free(void *pkey) { L.EVP_PKEY_free(pkey); }

// rs_sign writes the PKCS#1 v1.5 signature of a SHA-256 digest to sig,
// whose size is *siglen on entry; *siglen is the signature's length after.
static const char *rs_sign(void *pkey, const unsigned char *dgst, size_t dlen,
                           unsigned char *sig, size_t *siglen, unsigned long *err) {
	const char *step = NULL;
	L.ERR_clear_error();
	void *ctx = L.EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL)
		return rs_fail("EVP_PKEY_CTX_new_from_pkey", err);
	if (L.EVP_PKEY_sign_init(ctx) <= 0)
		step = "EVP_PKEY_sign_init";
	else if (L.EVP_PKEY_CTX_set_rsa_padding(ctx, RS_RSA_PKCS1_PADDING) <= 0)
		step = "EVP_PKEY_CTX_set_rsa_padding";
	else if (L.EVP_PKEY_CTX_set_signature_md(ctx, L.EVP_sha256()) <= 0)
		step = "EVP_PKEY_CTX_set_signature_md";
	else if (L.EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) <= 0)
		step = "EVP_PKEY_sign";
	L.EVP_PKEY_CTX_free(ctx);
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
	C.rs_error_string(code, &buf[0], C.size_t(len(buf)))
	return fmt.Errorf("openssl %s: %s", C.GoString(step), C.GoString(&buf[0]))
}

// probe runs once per process: whether libcrypto loads, and its version.
var probe = sync.OnceValues(func() (bool, string) {
	if why := C.rs_open(); why != nil {
		return false, C.GoString(why)
	}
	return true, C.GoString(C.rs_version())
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
	pkey unsafe.Pointer // EVP_PKEY
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
	kc := *k // marshalling precomputes into the key: never into the caller's
	der := x509.MarshalPKCS1PrivateKey(&kc)
	var pkey unsafe.Pointer
	var code C.ulong
	step := C.rs_load((*C.uchar)(unsafe.Pointer(unsafe.SliceData(der))), C.long(len(der)), &pkey, &code)
	clear(der) // the DER copy holds the private key
	if step != nil {
		return nil, fmt.Errorf("%w: loading key: %w", ErrUnavailable, sslError(step, code))
	}
	s := &sslKey{pkey: pkey, size: k.Size(), pub: k.PublicKey}
	if n := int(C.rs_size(pkey)); n != s.size {
		C.rs_free(pkey)
		return nil, fmt.Errorf("%w: loaded key signs %d bytes, want %d", ErrUnavailable, n, s.size)
	}
	runtime.AddCleanup(s, func(p unsafe.Pointer) { C.rs_free(p) }, pkey)
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

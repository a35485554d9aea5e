//go:build cgo

package rsasign

// cgoBuilt says the OpenSSL backend is compiled into this test binary.
const cgoBuilt = true

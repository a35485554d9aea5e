package console

import (
	"testing"
	"time"
)

// RFC 6238's test vectors (SHA-1, the 20-byte key "12345678901234567890"),
// cut to six digits as authenticator apps show them.
func TestTOTPVectors(t *testing.T) {
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	tests := []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, tt := range tests {
		got, err := totpAt(secret, tt.unix/30)
		if err != nil || got != tt.want {
			t.Errorf("code at %d = %s, %v; want %s", tt.unix, got, err, tt.want)
		}
	}
	now := time.Unix(1111111111, 0)
	for _, tt := range []struct {
		at time.Time
		ok bool
	}{{now, true}, {now.Add(-30 * time.Second), true}, {now.Add(30 * time.Second), true}, {now.Add(90 * time.Second), false}} {
		if _, ok := matchTOTP(secret, "050471", tt.at); ok != tt.ok {
			t.Errorf("050471 at %v: %v, want %v", tt.at.Unix(), ok, tt.ok)
		}
	}
	for _, bad := range []string{"", "05047", "0504711", "abcdef"} {
		if _, ok := matchTOTP(secret, bad, now); ok {
			t.Errorf("code %q matched", bad)
		}
	}
}

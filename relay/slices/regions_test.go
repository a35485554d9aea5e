package slices

import "testing"

func TestParseRegions(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"", "", false},
		{"it-bg", "it-bg", false},
		{"IT-BG=45.4,9.2,46.1,10.3; po-valley", "it-bg=45.4,9.2,46.1,10.3;po-valley", false},
		{"it-bg;it-bg", "", true},
		{"it bg", "", true},
		{"x=1,2,3", "", true},
		{"x=46,9,45,10", "", true},
		{"x=a,b,c,d", "", true},
		{"x=-91,0,0,1", "", true},
	}
	for _, tt := range tests {
		rs, err := ParseRegions(tt.in)
		if (err != nil) != tt.err || (!tt.err && FormatRegions(rs) != tt.want) {
			t.Errorf("ParseRegions(%q) = %q, %v", tt.in, FormatRegions(rs), err)
		}
	}
}

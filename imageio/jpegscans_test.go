package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"slices"
	"testing"
)

// scanInfo is one SOS header: the components and spectral band it codes.
type scanInfo struct {
	comps  []byte
	ss, se byte
}

func (s scanInfo) String() string { return fmt.Sprintf("%v %d-%d", s.comps, s.ss, s.se) }

// scansOf lists the scans of a JPEG (it trusts the file: tests only).
func scansOf(t *testing.T, data []byte) []scanInfo {
	t.Helper()
	var scans []scanInfo
	for i := 2; i+2 <= len(data); {
		if data[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := data[i+1]
		if m == 0xD9 {
			return scans
		}
		if i+4 > len(data) {
			break
		}
		end := i + 2 + int(binary.BigEndian.Uint16(data[i+2:]))
		if m != 0xDA {
			i = end
			continue
		}
		ns := int(data[i+4])
		var comps []byte
		for k := range ns {
			comps = append(comps, data[i+5+2*k])
		}
		scans = append(scans, scanInfo{comps, data[i+5+2*ns], data[i+6+2*ns]})
		next, ok := entropyEnd(data, end)
		if !ok {
			t.Fatalf("scan at %d has no end", i)
		}
		i = next
	}
	t.Fatal("no EOI")
	return nil
}

// TestWithoutUnusedScans: on a progressive 4:2:0 photo, exactly the luma AC
// scans go, and a decode at 1/8 gives the same pixels, byte for byte, as
// one of the whole file. Any other JPEG is left alone.
func TestWithoutUnusedScans(t *testing.T) {
	for _, p := range testPhotos {
		t.Run(p.name, func(t *testing.T) {
			data := testPhoto(t, p)
			fewer, ok := withoutUnusedScans(data)
			if !p.progressive {
				if ok {
					t.Fatal("a baseline file was filtered")
				}
				return
			}
			if !ok {
				t.Fatal("nothing dropped from a progressive photo")
			}
			before, after := scansOf(t, data), scansOf(t, fewer)
			var want []scanInfo
			for _, s := range before {
				// Component 1 is luma, the only fully sampled one in 4:2:0.
				if !(len(s.comps) == 1 && s.comps[0] == 1 && s.ss > 0) {
					want = append(want, s)
				}
			}
			if len(want) == len(before) || fmt.Sprint(after) != fmt.Sprint(want) {
				t.Fatalf("scans kept %v\nfrom %v\nwant %v", after, before, want)
			}
			t.Logf("%d of %d scans kept, %d of %d bytes", len(after), len(before), len(fewer), len(data))
			if !scaledJPEGAvailable {
				return
			}
			size := image.Pt(testPhotoW, testPhotoH)
			whole, ok1 := decodeJPEGScaled(data, size, 1)
			part, ok2 := decodeJPEGScaled(fewer, size, 1)
			if !ok1 || !ok2 {
				t.Fatalf("libjpeg refused: whole %v, filtered %v", ok1, ok2)
			}
			if whole.Rect != part.Rect || !bytes.Equal(whole.Pix, part.Pix) {
				t.Fatal("the 1/8 decode of the filtered file differs from the whole file's")
			}
			// At 2/8 the dropped coefficients count: the check above can fail.
			whole2, _ := decodeJPEGScaled(data, size, 2)
			part2, _ := decodeJPEGScaled(fewer, size, 2)
			if whole2 != nil && part2 != nil && bytes.Equal(whole2.Pix, part2.Pix) {
				t.Fatal("dropping the luma AC scans changed nothing even at 2/8: the scans kept are not what the test thinks")
			}
		})
	}
}

// TestWithoutUnusedScansDamaged: truncated or garbled files never panic and
// are either refused or passed on with their damage for libjpeg to report.
func TestWithoutUnusedScansDamaged(t *testing.T) {
	var prog []byte
	for _, p := range testPhotos {
		if p.progressive {
			prog = testPhoto(t, p)
		}
	}
	cases := map[string][]byte{
		"empty":     nil,
		"no SOI":    prog[2:],
		"only SOI":  prog[:2],
		"cut short": prog[:len(prog)/2],
		"no EOI":    prog[:len(prog)-2],
		"bad length": func() []byte {
			b := slices.Clone(prog)
			binary.BigEndian.PutUint16(b[4:], 0xFFFF)
			return b
		}(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if out, ok := withoutUnusedScans(data); ok && len(out) >= len(data) {
				t.Fatalf("filtered output of %d bytes from %d", len(out), len(data))
			}
		})
	}
}

func TestEntropyEnd(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want int
		ok   bool
	}{
		{"plain", []byte{1, 2, 3, 0xFF, 0xC4}, 3, true},
		{"stuffed zero", []byte{0xFF, 0x00, 7, 0xFF, 0xDA}, 3, true},
		{"restart markers", []byte{1, 0xFF, 0xD0, 2, 0xFF, 0xD7, 0xFF, 0xD9}, 6, true},
		{"fill before a marker", []byte{1, 0xFF, 0xFF, 0xFF, 0xD9}, 1, true},
		{"no marker", []byte{1, 2, 0xFF, 0x00}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := entropyEnd(tt.data, 0)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("entropyEnd = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

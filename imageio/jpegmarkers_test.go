package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// seg is a marker segment as raw bytes: FF, m, length, payload.
func seg(m byte, payload string) string {
	return string(binary.BigEndian.AppendUint16([]byte{0xFF, m}, uint16(len(payload)+2))) + payload
}

// walked lists a walk's segments as "FFxx@start-end payload" ("-" for no
// payload), and its error.
func walked(walk func(func(jpegSegment, error) bool)) (got []string, err error) {
	for s, e := range walk {
		if e != nil {
			return got, e
		}
		p := "-"
		if s.Payload != nil {
			p = fmt.Sprintf("%q", s.Payload)
		}
		got = append(got, fmt.Sprintf("FF%02X@%d-%d %s", s.Marker, s.Start, s.End, p))
	}
	return got, nil
}

// TestJPEGSegments: the header walk every JPEG reader here shares yields
// each segment with its bounds and payload, skips fill bytes, passes
// markers without a length, stops at the first SOS or EOI, and ends a
// damaged or cut-off header with an error that names the offset.
func TestJPEGSegments(t *testing.T) {
	soi := "\xFF\xD8"
	app1 := seg(0xE1, "Exif\x00\x00abc") // 4+9 bytes
	sof := seg(0xC0, "\x08\x00\x01\x00\x01\x01\x01\x11\x00")
	sos := seg(0xDA, "\x01\x01\x00\x00\x3F\x00")
	for _, c := range []struct {
		name string
		b    string
		want []string
		err  error  // wrapped by the walk's error; nil: none
		at   string // the error's text names this offset
	}{
		{name: "header to the first scan", b: soi + app1 + sof + sos + "\x12\xFF\x00\x34\xFF\xD9",
			want: []string{`FFE1@2-15 "Exif\x00\x00abc"`, `FFC0@15-28 "\b\x00\x01\x00\x01\x01\x01\x11\x00"`, `FFDA@28-38 "\x01\x01\x00\x00?\x00"`}},
		{name: "fill bytes before a marker", b: soi + "\xFF\xFF\xFF" + app1 + "\xFF" + sos,
			want: []string{`FFE1@5-18 "Exif\x00\x00abc"`, `FFDA@19-29 "\x01\x01\x00\x00?\x00"`}},
		{name: "markers without a length", b: soi + "\xFF\xD0\xFF\x01\xFF\xD8\xFF\xD7" + sos,
			want: []string{"FFD0@2-4 -", "FF01@4-6 -", "FFD8@6-8 -", "FFD7@8-10 -", `FFDA@10-20 "\x01\x01\x00\x00?\x00"`}},
		{name: "EOI ends the walk", b: soi + app1 + "\xFF\xD9" + app1,
			want: []string{`FFE1@2-15 "Exif\x00\x00abc"`, "FFD9@15-17 -"}},
		{name: "an empty payload is not a missing one", b: soi + seg(0xFE, "") + sos,
			want: []string{`FFFE@2-6 ""`, `FFDA@6-16 "\x01\x01\x00\x00?\x00"`}},
		{name: "unknown markers have a length", b: soi + seg(0x00, "x") + sos,
			want: []string{`FF00@2-7 "x"`, `FFDA@7-17 "\x01\x01\x00\x00?\x00"`}},

		{name: "not a JPEG", b: "\x89PNG\r\n", err: errNotJPEG},
		{name: "SOI alone", b: soi, err: io.ErrUnexpectedEOF, at: "offset 2"},
		{name: "ends before a scan", b: soi + app1, want: []string{`FFE1@2-15 "Exif\x00\x00abc"`},
			err: io.ErrUnexpectedEOF, at: "offset 15"},
		{name: "segment cut off", b: soi + app1[:8], err: io.ErrUnexpectedEOF, at: "offset 2"},
		{name: "length cut off", b: soi + "\xFF\xE1\x00", err: io.ErrUnexpectedEOF, at: "offset 2"},
		{name: "marker cut off after fill bytes", b: soi + app1 + "\xFF\xFF", want: []string{`FFE1@2-15 "Exif\x00\x00abc"`},
			err: io.ErrUnexpectedEOF, at: "offset 16"},
		{name: "a byte where a marker should be", b: soi + app1 + "\x00" + sos, want: []string{`FFE1@2-15 "Exif\x00\x00abc"`},
			err: ErrCorrupt, at: "offset 15"},
		{name: "length under 2", b: soi + "\xFF\xE1\x00\x01" + sos, err: ErrCorrupt, at: "offset 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := walked(jpegSegments([]byte(c.b)))
			if !slices.Equal(got, c.want) {
				t.Errorf("segments\n%q\nwant\n%q", got, c.want)
			}
			switch {
			case c.err == nil && err != nil:
				t.Errorf("error %v, want none", err)
			case c.err != nil && !errors.Is(err, c.err):
				t.Errorf("error %v, want %v", err, c.err)
			case c.at != "" && !strings.Contains(err.Error(), c.at):
				t.Errorf("error %q does not name %s", err, c.at)
			}
		})
	}

	// From the end of a scan's entropy-coded data, as the scan filter resumes.
	b := []byte(soi + sos + "\x12\x34" + app1 + "\xFF\xD9")
	got, err := walked(jpegSegmentsAt(b, 14))
	if want := []string{`FFE1@14-27 "Exif\x00\x00abc"`, "FFD9@27-29 -"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("from offset 14: %q %v, want %q", got, err, want)
	}
	// A reader that stops early is not called again (range-over-func
	// panics if it is).
	for range jpegSegments([]byte(soi + app1 + app1 + sos)) {
		break
	}
}

// FuzzJPEGSegments: the header walk never panics nor reads outside its
// input; its segments follow each other (only fill bytes between them),
// each one's bounds, marker and payload agree with the bytes; it ends with
// SOS, EOI or one error, wrapping io.ErrUnexpectedEOF or ErrCorrupt; and a
// walk of a prefix (what Probe has read) yields the same segments as the
// walk of the whole.
func FuzzJPEGSegments(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		if bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
			f.Add(b, uint16(len(b)/3))
		}
	}
	f.Add(phoneJPEG(f, binary.LittleEndian), uint16(100))
	f.Add([]byte("\xFF\xD8\xFF\xFF\xFF\xD0\xFF\x01\xFF\xE1\x00\x02\xFF\xD9"), uint16(7))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		var segs []jpegSegment
		var walkErr error
		next := 2
		for s, err := range jpegSegments(b) {
			if walkErr != nil {
				t.Fatalf("a pair after the error %v", walkErr)
			}
			if err != nil {
				walkErr = err
				continue
			}
			if len(segs) > 0 {
				if last := segs[len(segs)-1].Marker; last == markerSOS || last == markerEOI {
					t.Fatalf("a segment after FF%02X", last)
				}
			}
			if s.Start < next || s.End > len(b) || s.Start+2 > s.End {
				t.Fatalf("segment %d-%d after %d in %d bytes", s.Start, s.End, next, len(b))
			}
			for i := next; i <= s.Start; i++ {
				if b[i] != 0xFF {
					t.Fatalf("byte 0x%02X at %d before the segment at %d", b[i], i, s.Start)
				}
			}
			if b[s.Start+1] != s.Marker || s.Marker == 0xFF {
				t.Fatalf("marker FF%02X, the bytes say %02X", s.Marker, b[s.Start+1])
			}
			if standalone(s.Marker) {
				if s.Payload != nil || s.End != s.Start+2 {
					t.Fatalf("standalone FF%02X with %d-%d %q", s.Marker, s.Start, s.End, s.Payload)
				}
			} else if n := int(binary.BigEndian.Uint16(b[s.Start+2:])); n+2 != s.End-s.Start || !bytes.Equal(s.Payload, b[s.Start+4:s.End]) || s.Payload == nil {
				t.Fatalf("FF%02X length %d: %d-%d payload %d bytes", s.Marker, n, s.Start, s.End, len(s.Payload))
			}
			segs = append(segs, s)
			next = s.End
		}
		ended := len(segs) > 0 && (segs[len(segs)-1].Marker == markerSOS || segs[len(segs)-1].Marker == markerEOI)
		if ended == (walkErr != nil) {
			t.Fatalf("the walk ended with SOS/EOI %t and error %v: want one of them", ended, walkErr)
		}
		if walkErr != nil && !errors.Is(walkErr, io.ErrUnexpectedEOF) && !errors.Is(walkErr, ErrCorrupt) && !errors.Is(walkErr, errNotJPEG) {
			t.Fatalf("error %v is neither truncation nor corruption", walkErr)
		}

		// A prefix yields what the whole yields up to where it stops.
		prefix := b[:min(len(b), int(cut))]
		i := 0
		for s, err := range jpegSegments(prefix) {
			if err != nil {
				break
			}
			if i >= len(segs) || s.Start != segs[i].Start || s.End != segs[i].End || s.Marker != segs[i].Marker {
				t.Fatalf("prefix of %d bytes: segment %d is FF%02X@%d-%d, not the whole's", len(prefix), i, s.Marker, s.Start, s.End)
			}
			i++
		}
	})
}

package imageio

// withoutUnusedScans returns a progressive JPEG without the scans a decode
// at 1/8 scale has no use for, or ok false when there are none (a baseline
// file, or anything this parser does not expect: the caller then decodes
// data as it is).
//
// At 1/8, libjpeg-turbo reduces each 8x8 block of a component with full
// sampling to one pixel, its DC coefficient; only subsampled components
// (4:2:0 chroma) keep a 2x2 transform, which reads AC coefficients. In a
// progressive file every AC scan holds one component, so the AC scans of
// the fully sampled components can go without changing a single output
// pixel. They are most of a progressive photo's entropy-coded data, and
// decoding them is most of its decode time: libjpeg has no fast path for
// progressive Huffman decoding.
func withoutUnusedScans(data []byte) (out []byte, ok bool) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, false
	}
	type component struct{ id, h, v byte }
	var comps []component
	var maxH, maxV byte
	full := func(id byte) bool {
		for _, c := range comps {
			if c.id == id {
				return c.h == maxH && c.v == maxV
			}
		}
		return false
	}
	out = make([]byte, 0, len(data))
	out = append(out, 0xFF, 0xD8)
	dropped := false
	// The segments up to a scan's header, then again from where its
	// entropy-coded data ends, until EOI.
	for at := 2; ; {
		next := -1
		for seg, err := range jpegSegmentsAt(data, at) {
			if err != nil {
				return nil, false
			}
			switch m, p := seg.Marker, seg.Payload; {
			case m == markerEOI:
				return append(out, 0xFF, markerEOI), dropped
			case p == nil:
				return nil, false // TEM, RST or SOI: not expected between segments
			case m == 0xC2: // progressive Huffman frame
				if len(p) < 6 || len(p) < 6+3*int(p[5]) {
					return nil, false
				}
				for k := range int(p[5]) {
					c := p[6+3*k:]
					comp := component{id: c[0], h: c[1] >> 4, v: c[1] & 15}
					comps = append(comps, comp)
					maxH, maxV = max(maxH, comp.h), max(maxV, comp.v)
				}
			case isFrameHeader(m):
				return nil, false // any other frame type: nothing to drop
			case m == markerSOS: // then entropy-coded data to the next marker
				if comps == nil || len(p) < 2 || len(p) < 1+2*int(p[0])+3 {
					return nil, false
				}
				ns := int(p[0])
				ss := p[1+2*ns]
				scanEnd, ok := entropyEnd(data, seg.End)
				if !ok {
					return nil, false
				}
				if ns == 1 && ss > 0 && full(p[1]) {
					dropped = true
				} else {
					out = append(out, data[seg.Start:scanEnd]...)
				}
				next = scanEnd
				continue
			}
			out = append(out, data[seg.Start:seg.End]...)
		}
		if next < 0 {
			return nil, false
		}
		at = next
	}
}

// entropyEnd finds where the entropy-coded data starting at i ends: at the
// first marker other than a stuffed zero (FF 00) or a restart (FF D0-D7).
func entropyEnd(data []byte, i int) (int, bool) {
	for ; i+1 < len(data); i++ {
		if data[i] != 0xFF {
			continue
		}
		if next := data[i+1]; next == 0x00 || (next >= 0xD0 && next <= 0xD7) {
			i++
			continue
		}
		return i, true // fill bytes (FF FF) before a marker included
	}
	return 0, false
}

package imageio

import "encoding/binary"

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
	i := 2
	for {
		// A marker, possibly after fill bytes.
		if i >= len(data) || data[i] != 0xFF {
			return nil, false
		}
		for i+1 < len(data) && data[i+1] == 0xFF {
			i++
		}
		if i+1 >= len(data) {
			return nil, false
		}
		marker := data[i+1]
		if marker == 0xD9 { // EOI
			out = append(out, 0xFF, 0xD9)
			return out, dropped
		}
		if i+4 > len(data) {
			return nil, false
		}
		end := i + 2 + int(binary.BigEndian.Uint16(data[i+2:]))
		if end > len(data) || end < i+4 {
			return nil, false
		}
		seg := data[i:end]
		switch {
		case marker == 0xC2: // progressive Huffman frame
			if len(seg) < 10 || len(seg) < 10+3*int(seg[9]) {
				return nil, false
			}
			for k := range int(seg[9]) {
				c := seg[10+3*k:]
				comp := component{id: c[0], h: c[1] >> 4, v: c[1] & 15}
				comps = append(comps, comp)
				maxH, maxV = max(maxH, comp.h), max(maxV, comp.v)
			}
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			return nil, false // any other frame type: nothing to drop
		case marker == 0xDA: // start of scan, then entropy-coded data to the next marker
			if comps == nil || len(seg) < 6 || len(seg) < 5+2*int(seg[4])+3 {
				return nil, false
			}
			ns := int(seg[4])
			ss := seg[5+2*ns]
			scanEnd, ok := entropyEnd(data, end)
			if !ok {
				return nil, false
			}
			if ns == 1 && ss > 0 && full(seg[5]) {
				dropped = true
			} else {
				out = append(out, data[i:scanEnd]...)
			}
			i = scanEnd
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8):
			return nil, false // no length field: not expected between segments
		}
		out = append(out, seg...)
		i = end
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

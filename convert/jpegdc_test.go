package convert_test

import "encoding/binary"

// dcJPEG is a minimal JPEG writer for inputs Go's encoder cannot make:
// progressive scans and 4-component (Adobe CMYK) files. Every 8x8 block is
// flat (only its DC coefficient is coded, quantiser 1), which is enough to
// place known colours at known places.
type dcJPEG struct {
	Progressive bool
	// Components is 1 (grey), 3 (YCbCr) or 4 (CMYK, with an Adobe APP14
	// marker saying "no colour transform").
	Components int
	BW, BH     int // size in blocks; the image is 8*BW x 8*BH
	// Level gives a block's sample value (0..255) for one component.
	Level func(bx, by, comp int) uint8
}

func (j dcJPEG) encode() []byte {
	be := binary.BigEndian
	seg := func(out []byte, marker byte, body []byte) []byte {
		out = append(out, 0xFF, marker)
		out = be.AppendUint16(out, uint16(len(body)+2))
		return append(out, body...)
	}
	out := []byte{0xFF, 0xD8}
	if j.Components == 4 {
		out = seg(out, 0xEE, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, 0))
	}
	dqt := []byte{0}
	for range 64 {
		dqt = append(dqt, 1)
	}
	out = seg(out, 0xDB, dqt)
	sof := []byte{8}
	sof = be.AppendUint16(sof, uint16(8*j.BH))
	sof = be.AppendUint16(sof, uint16(8*j.BW))
	sof = append(sof, byte(j.Components))
	for c := range j.Components {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	sofMarker := byte(0xC0)
	if j.Progressive {
		sofMarker = 0xC2
	}
	out = seg(out, sofMarker, sof)
	// DC table 0: the 12 size categories, all 4-bit codes equal to the
	// category. AC table 0: the single symbol 0x00 (end of block; in a
	// progressive AC scan, a run of one empty block), 1-bit code 0.
	dc := []byte{0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	out = seg(out, 0xC4, dc)
	out = seg(out, 0xC4, []byte{0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00})

	sos := func(comps []int, ss, se byte) []byte {
		b := []byte{byte(len(comps))}
		for _, c := range comps {
			b = append(b, byte(c+1), 0x00)
		}
		return append(b, ss, se, 0)
	}
	all := make([]int, j.Components)
	for c := range all {
		all[c] = c
	}
	if !j.Progressive {
		out = seg(out, 0xDA, sos(all, 0, 63))
		out = append(out, j.scan(all, true, true)...)
	} else {
		out = seg(out, 0xDA, sos(all, 0, 0))
		out = append(out, j.scan(all, true, false)...)
		for _, c := range all {
			out = seg(out, 0xDA, sos([]int{c}, 1, 63))
			out = append(out, j.scan([]int{c}, false, true)...)
		}
	}
	return append(out, 0xFF, 0xD9)
}

// scan codes the entropy data of one scan over comps, interleaved block by
// block (with 1x1 sampling an MCU is one block of each component).
func (j dcJPEG) scan(comps []int, withDC, withAC bool) []byte {
	var w bitWriter
	pred := make([]int, len(comps))
	for by := range j.BH {
		for bx := range j.BW {
			for i, c := range comps {
				if withDC {
					dc := 8 * (int(j.Level(bx, by, c)) - 128)
					diff := dc - pred[i]
					pred[i] = dc
					cat, mag := 0, diff
					if mag < 0 {
						mag = -mag
					}
					for mag>>cat != 0 {
						cat++
					}
					w.put(uint32(cat), 4)
					if cat > 0 {
						bits := diff
						if diff < 0 {
							bits = diff - 1
						}
						w.put(uint32(bits)&(1<<cat-1), cat)
					}
				}
				if withAC {
					w.put(0, 1) // end of block
				}
			}
		}
	}
	return w.flush()
}

type bitWriter struct {
	out   []byte
	acc   uint32
	nbits int
}

func (w *bitWriter) put(bits uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (bits>>i)&1
		w.nbits++
		if w.nbits == 8 {
			w.out = append(w.out, byte(w.acc))
			if byte(w.acc) == 0xFF {
				w.out = append(w.out, 0) // byte stuffing
			}
			w.acc, w.nbits = 0, 0
		}
	}
}

func (w *bitWriter) flush() []byte {
	for w.nbits != 0 {
		w.put(1, 1) // pad with ones
	}
	return w.out
}

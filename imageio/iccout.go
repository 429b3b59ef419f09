package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
)

// jpegICCChunk is the most profile data one APP2 segment holds: the
// segment's 65533 payload bytes less "ICC_PROFILE\0", sequence and count.
const jpegICCChunk = jpegMaxSegment - 14

// jpegICCSegments splits a profile into APP2 ICC_PROFILE segments (at
// most 255 of them, 16 MB: more than any profile carries); nil for none.
func jpegICCSegments(icc []byte) []byte {
	if len(icc) == 0 {
		return nil
	}
	n := (len(icc) + jpegICCChunk - 1) / jpegICCChunk
	if n > 255 {
		return nil
	}
	out := make([]byte, 0, len(icc)+n*18)
	for i := 0; i < n; i++ {
		part := icc[i*jpegICCChunk : min(len(icc), (i+1)*jpegICCChunk)]
		size := 2 + len(iccPrefix) + 2 + len(part)
		out = append(out, 0xFF, 0xE2, byte(size>>8), byte(size))
		out = append(out, iccPrefix...)
		out = append(out, byte(i+1), byte(n))
		out = append(out, part...)
	}
	return out
}

// pngICCChunk is an iCCP chunk ("ICC profile", deflated); nil for none.
func pngICCChunk(icc []byte) []byte {
	if len(icc) == 0 {
		return nil
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(icc)
	zw.Close()
	body := append([]byte("ICC profile\x00\x00"), z.Bytes()...)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	out = append(out, "iCCP"...)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// webpWithICC puts an ICCP chunk into a WebP file (replacing any), right
// after VP8X as the container specification orders it, turning a simple
// file into an extended one. enc is returned as it is without a profile.
func webpWithICC(enc, icc []byte, w, h int) []byte {
	if len(icc) == 0 || len(enc) < 12 {
		return enc
	}
	var flags byte
	var vp8x []byte
	var rest [][]byte
	walkRIFF(enc, func(id string, body []byte) bool {
		switch id {
		case "VP8X":
			vp8x = body
			return true
		case "ICCP":
			return true
		case "ALPH":
			flags |= vp8xAlpha
		case "VP8L":
			if len(body) >= 5 && binary.LittleEndian.Uint32(body[1:])>>28&1 == 1 {
				flags |= vp8xAlpha
			}
		}
		rest = append(rest, riffChunk(id, body))
		return true
	})
	out := make([]byte, 0, len(enc)+len(icc)+40)
	out = append(out, "RIFF\x00\x00\x00\x00WEBP"...)
	if len(vp8x) >= 10 {
		head := bytes.Clone(vp8x)
		head[0] |= vp8xICC
		out = append(out, riffChunk("VP8X", head)...)
	} else {
		head := []byte{flags | vp8xICC, 0, 0, 0,
			byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16),
			byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
		out = append(out, riffChunk("VP8X", head)...)
	}
	out = append(out, riffChunk("ICCP", icc)...)
	for _, c := range rest {
		out = append(out, c...)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// riffChunk is a chunk with its header and pad byte.
func riffChunk(id string, body []byte) []byte {
	c := make([]byte, 0, 8+len(body)+1)
	c = append(c, id...)
	c = binary.LittleEndian.AppendUint32(c, uint32(len(body)))
	c = append(c, body...)
	if len(body)&1 == 1 {
		c = append(c, 0)
	}
	return c
}

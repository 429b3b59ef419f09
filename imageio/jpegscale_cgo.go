//go:build cgo && !nolibjpeg

package imageio

/*
#cgo LDFLAGS: -ljpeg
#include "libjpeg_cgo.h"

// animegan_decode_scaled decodes a JPEG at num/8 of its size (DCT-domain
// scaling: only the low-frequency coefficients are transformed) straight
// into out, RGBA rows of w*4 bytes that the caller allocated for the w x h
// it expects. Nothing is written to out unless libjpeg agrees on that size,
// and no pointer to data or out is kept after the return. It returns 0 on
// success, 1 on an error (msg says which), 2 when the image has warnings
// (damaged data), a colour space this path does not convert (CMYK, YCCK),
// or another size: the caller then uses its own decoder.
static int animegan_decode_scaled(const unsigned char *data, unsigned long len, int num,
		unsigned char *out, int w, int h, char *msg) {
	struct jpeg_decompress_struct d;
	struct animegan_err e;
	JSAMPROW *volatile rows = NULL;
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = animegan_error_exit;
	e.pub.output_message = animegan_quiet;
	if (setjmp(e.jump)) {
		jpeg_destroy_decompress(&d);
		free(rows);
		strncpy(msg, e.msg, JMSG_LENGTH_MAX - 1);
		return 1;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, data, len);
	jpeg_read_header(&d, TRUE);
	if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&d);
		return 2;
	}
	d.scale_num = num;
	d.scale_denom = 8;
	d.out_color_space = JCS_EXT_RGBA;
	// Smoothing only guesses coefficients a progressive file has not sent
	// yet; a complete file never needs it, and withoutUnusedScans' output
	// lacks only coefficients a 1/8 decode ignores.
	d.do_block_smoothing = FALSE;
	jpeg_calc_output_dimensions(&d);
	if (d.output_width != (JDIMENSION)w || d.output_height != (JDIMENSION)h) {
		jpeg_destroy_decompress(&d);
		return 2;
	}
	rows = malloc((size_t)h * sizeof(JSAMPROW));
	if (rows == NULL) {
		jpeg_destroy_decompress(&d);
		strcpy(msg, "out of memory");
		return 1;
	}
	for (int y = 0; y < h; y++) {
		rows[y] = out + (size_t)y * w * 4;
	}
	jpeg_start_decompress(&d);
	// Asking for every remaining row lets libjpeg hand over a whole iMCU
	// row per call.
	while (d.output_scanline < d.output_height) {
		if (jpeg_read_scanlines(&d, rows + d.output_scanline, d.output_height - d.output_scanline) == 0) {
			break; // cannot happen with a memory source; do not spin
		}
	}
	int done = d.output_scanline == d.output_height;
	if (done) {
		jpeg_finish_decompress(&d);
	}
	int warned = d.err->num_warnings > 0;
	jpeg_destroy_decompress(&d);
	free(rows);
	return (done && !warned) ? 0 : 2;
}
*/
import "C"

import (
	"image"
	"unsafe"
)

// scaledJPEGAvailable says whether decodeJPEGScaled can shrink while
// decoding (libjpeg-turbo is linked in).
const scaledJPEGAvailable = true

// decodeJPEGScaled decodes data, a JPEG stored as size, at num/8 of its
// size (num 1..8) with libjpeg-turbo, into a new NRGBA of
// dctScaledSize(size, num). ok is false when this path cannot (damaged
// data, CMYK): the caller falls back to the standard library's decoder,
// which gives the proper error.
func decodeJPEGScaled(data []byte, size image.Point, num int) (img *image.NRGBA, ok bool) {
	out := dctScaledSize(size, num)
	if len(data) == 0 || num < 1 || num > 8 || out.X < 1 || out.Y < 1 {
		return nil, false
	}
	// Allocated here, filled by C: no C buffer and no copy. Passing Go
	// pointers for the duration of the call is allowed, as the memory holds
	// no Go pointers and C keeps neither after it returns.
	img = image.NewNRGBA(image.Rectangle{Max: out})
	var msg [C.JMSG_LENGTH_MAX]C.char
	rc := C.animegan_decode_scaled((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), C.int(num),
		(*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(out.X), C.int(out.Y), &msg[0])
	if rc != 0 {
		return nil, false
	}
	return img, true
}

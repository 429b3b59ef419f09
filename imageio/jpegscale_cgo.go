//go:build cgo && !nolibjpeg

package imageio

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

// libjpeg reports errors by calling error_exit, which by default ends the
// process: jump back out instead, with the message.
struct animegan_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
};

static void animegan_error_exit(j_common_ptr c) {
	struct animegan_err *e = (struct animegan_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

static void animegan_quiet(j_common_ptr c) {}

// animegan_decode_scaled decodes a JPEG at 1/denom of its size (DCT-domain
// scaling: only the low-frequency coefficients are transformed) into RGBA.
// It returns 0 on success, 1 on an error (msg says which), 2 when the
// image has warnings (damaged data) or a colour space this path does not
// convert (CMYK, YCCK): the caller then uses its own decoder.
static int animegan_decode_scaled(const unsigned char *data, unsigned long len, int denom,
		unsigned char **out, int *w, int *h, char *msg) {
	struct jpeg_decompress_struct d;
	struct animegan_err e;
	unsigned char *volatile buf = NULL;
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = animegan_error_exit;
	e.pub.output_message = animegan_quiet;
	if (setjmp(e.jump)) {
		jpeg_destroy_decompress(&d);
		free(buf);
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
	d.scale_num = 1;
	d.scale_denom = denom;
	d.out_color_space = JCS_EXT_RGBA;
	jpeg_start_decompress(&d);
	*w = d.output_width;
	*h = d.output_height;
	buf = malloc((size_t)d.output_width * d.output_height * 4);
	if (buf == NULL) {
		jpeg_destroy_decompress(&d);
		strcpy(msg, "out of memory");
		return 1;
	}
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = buf + (size_t)d.output_scanline * d.output_width * 4;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	int warned = d.err->num_warnings > 0;
	jpeg_destroy_decompress(&d);
	if (warned) {
		free(buf);
		return 2;
	}
	*out = buf;
	return 0;
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

// decodeJPEGScaled decodes data at 1/denom of its size with libjpeg-turbo.
// ok is false when this path cannot (damaged data, CMYK): the caller falls
// back to the standard library's decoder, which gives the proper error.
func decodeJPEGScaled(data []byte, denom int) (img *image.NRGBA, ok bool) {
	if len(data) == 0 {
		return nil, false
	}
	var out *C.uchar
	var w, h C.int
	var msg [C.JMSG_LENGTH_MAX]C.char
	rc := C.animegan_decode_scaled((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), C.int(denom), &out, &w, &h, &msg[0])
	if rc != 0 {
		return nil, false
	}
	defer C.free(unsafe.Pointer(out))
	img = image.NewNRGBA(image.Rect(0, 0, int(w), int(h)))
	copy(img.Pix, unsafe.Slice((*byte)(unsafe.Pointer(out)), len(img.Pix)))
	return img, true
}

//go:build cgo && !nolibjpeg

package imageio

/*
#cgo LDFLAGS: -ljpeg
#include "libjpeg_cgo.h"
#include <jerror.h>

// animegan_dest collects the compressed bytes in a malloc'd buffer that
// grows by doubling. jpeg_mem_dest would do the same, but keeps a grown
// buffer private until the end: an error midway would leak it.
struct animegan_dest {
	struct jpeg_destination_mgr pub;
	unsigned char *buf;
	size_t cap;
};

static void animegan_dest_init(j_compress_ptr c) {}
static void animegan_dest_term(j_compress_ptr c) {}

// Called when the buffer is full (free_in_buffer is 0).
static boolean animegan_dest_grow(j_compress_ptr c) {
	struct animegan_dest *d = (struct animegan_dest *)c->dest;
	size_t cap = d->cap * 2;
	unsigned char *buf = realloc(d->buf, cap);
	if (buf == NULL) {
		ERREXIT1(c, JERR_OUT_OF_MEMORY, 10);
	}
	d->pub.next_output_byte = buf + d->cap;
	d->pub.free_in_buffer = cap - d->cap;
	d->buf = buf;
	d->cap = cap;
	return TRUE;
}

// animegan_enc is everything the error path reads after longjmp, on the
// heap: locals changed after setjmp would have indeterminate values there.
struct animegan_enc {
	struct jpeg_compress_struct c;
	struct animegan_err e;
	struct animegan_dest dest;
	JSAMPROW *rows;
};

static void animegan_enc_free(struct animegan_enc *s) {
	jpeg_destroy_compress(&s->c);
	free(s->dest.buf);
	free(s->rows);
	free(s);
}

// animegan_encode compresses w x h pixels of 4 bytes (R, G, B, ignored),
// rows stride bytes apart, as a baseline JPEG with 4:2:0 chroma and the
// standard Huffman tables at the IJG quality (1..100): what image/jpeg
// writes. progressive (tests only) writes libjpeg's standard progressive
// scan script instead, which image/jpeg cannot write. pix is only read,
// and not kept after the return. On success (0) *out is a malloc'd buffer
// of *outlen bytes for the caller to free; on an error (1) msg says which.
static int animegan_encode(const unsigned char *pix, int w, int h, int stride, int quality, int progressive,
		unsigned char **out, unsigned long *outlen, char *msg) {
	struct animegan_enc *s = calloc(1, sizeof *s);
	if (s == NULL) {
		strcpy(msg, "out of memory");
		return 1;
	}
	s->c.err = jpeg_std_error(&s->e.pub);
	s->e.pub.error_exit = animegan_error_exit;
	s->e.pub.output_message = animegan_quiet;
	if (setjmp(s->e.jump)) {
		strncpy(msg, s->e.msg, JMSG_LENGTH_MAX - 1);
		animegan_enc_free(s);
		return 1;
	}
	jpeg_create_compress(&s->c);
	// Half a byte per pixel holds a quality-95 photo; the rare bigger
	// output grows the buffer.
	s->dest.cap = (size_t)w * h / 2 + 4096;
	s->dest.buf = malloc(s->dest.cap);
	s->rows = malloc((size_t)h * sizeof(JSAMPROW));
	if (s->dest.buf == NULL || s->rows == NULL) {
		ERREXIT1(&s->c, JERR_OUT_OF_MEMORY, 10);
	}
	s->dest.pub.init_destination = animegan_dest_init;
	s->dest.pub.empty_output_buffer = animegan_dest_grow;
	s->dest.pub.term_destination = animegan_dest_term;
	s->dest.pub.next_output_byte = s->dest.buf;
	s->dest.pub.free_in_buffer = s->dest.cap;
	s->c.dest = &s->dest.pub;
	for (int y = 0; y < h; y++) {
		s->rows[y] = (JSAMPROW)(pix + (size_t)y * stride);
	}

	s->c.image_width = w;
	s->c.image_height = h;
	s->c.input_components = 4;
	s->c.in_color_space = JCS_EXT_RGBX;
	jpeg_set_defaults(&s->c); // YCbCr, 4:2:0, baseline Huffman coding
	jpeg_set_quality(&s->c, quality, TRUE);
	s->c.optimize_coding = FALSE; // a second pass; image/jpeg has none either
	s->c.dct_method = JDCT_ISLOW; // the accurate one, like image/jpeg's
	if (progressive) {
		jpeg_simple_progression(&s->c); // after set_defaults, which resets the scans
	}
	jpeg_start_compress(&s->c, TRUE);
	while (s->c.next_scanline < s->c.image_height) {
		jpeg_write_scanlines(&s->c, s->rows + s->c.next_scanline, s->c.image_height - s->c.next_scanline);
	}
	jpeg_finish_compress(&s->c);

	*out = s->dest.buf;
	*outlen = s->dest.cap - s->dest.pub.free_in_buffer;
	s->dest.buf = NULL; // now the caller's
	animegan_enc_free(s);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"io"
	"unsafe"
)

// libjpegEncoder says whether writeJPEG is libjpeg-turbo's encoder.
const libjpegEncoder = true

// writeJPEG writes an opaque img with libjpeg-turbo: the same format and
// quality scale as image/jpeg (see writeJPEGStd), in a fraction of the CPU.
func writeJPEG(w io.Writer, img *image.NRGBA, quality int) error {
	return writeLibjpeg(w, img, quality, false)
}

// writeLibjpeg is writeJPEG with the choice of a progressive JPEG. Only the
// tests ask for one: it is how they make their progressive fixture, as the
// standard library writes baseline only. Encode stays baseline, which every
// reader decodes in one pass.
func writeLibjpeg(w io.Writer, img *image.NRGBA, quality int, progressive bool) error {
	b := img.Rect
	if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > C.JPEG_MAX_DIMENSION || b.Dy() > C.JPEG_MAX_DIMENSION {
		if progressive {
			// image/jpeg would write a baseline file that the caller did
			// not ask for.
			return fmt.Errorf("libjpeg: cannot write %dx%d", b.Dx(), b.Dy())
		}
		// Sizes libjpeg refuses: image/jpeg gives its own answer.
		return writeJPEGStd(w, img, quality)
	}
	var prog C.int
	if progressive {
		prog = 1
	}
	pix := img.Pix[img.PixOffset(b.Min.X, b.Min.Y):]
	var out *C.uchar
	var n C.ulong
	var msg [C.JMSG_LENGTH_MAX]C.char
	// C reads the Go pixels during the call only, which the cgo rules
	// allow (the memory holds no Go pointers).
	rc := C.animegan_encode((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(b.Dx()), C.int(b.Dy()), C.int(img.Stride),
		C.int(quality), prog, &out, &n, &msg[0])
	if rc != 0 {
		return errors.New("libjpeg: " + C.GoString(&msg[0]))
	}
	defer C.free(unsafe.Pointer(out))
	// No copy into Go memory: a Writer must not retain what it is given.
	_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n)))
	return err
}

//go:build cgo && !nolibwebp

package imageio

/*
#cgo LDFLAGS: -lwebp
#include <stdlib.h>
#include <webp/encode.h>

// animegan_webp encodes w x h non-premultiplied RGBA pixels, rows stride
// bytes apart, as a lossy WebP at quality (0..100) or a lossless one. pix
// is only read, and not kept after the return. On success (0) *out is a
// buffer of *outlen bytes for the caller to release with WebPFree; on a
// failure *code is libwebp's WebPEncodingError (-1: bad configuration).
static int animegan_webp(const uint8_t *pix, int w, int h, int stride, float quality, int lossless,
		uint8_t **out, size_t *outlen, int *code) {
	WebPConfig cfg;
	WebPPicture pic;
	WebPMemoryWriter wr;
	*code = -1;
	if (!WebPConfigInit(&cfg) || !WebPPictureInit(&pic)) {
		return 1;
	}
	cfg.quality = quality;
	cfg.lossless = lossless;
	if (lossless) {
		cfg.quality = 75; // lossless: the effort, cwebp -lossless's default
	}
	cfg.method = 4; // libwebp's and cwebp's default speed/size trade-off
	if (!WebPValidateConfig(&cfg)) {
		return 1;
	}
	pic.use_argb = lossless;
	pic.width = w;
	pic.height = h;
	if (!WebPPictureImportRGBA(&pic, pix, stride)) {
		*code = pic.error_code;
		WebPPictureFree(&pic);
		return 1;
	}
	WebPMemoryWriterInit(&wr);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &wr;
	int ok = WebPEncode(&cfg, &pic);
	*code = pic.error_code;
	WebPPictureFree(&pic);
	if (!ok) {
		WebPMemoryWriterClear(&wr);
		return 1;
	}
	*out = wr.mem;
	*outlen = wr.size;
	return 0;
}
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// webpEncoder says whether this binary writes WebP (libwebp linked in).
const webpEncoder = true

// webpVersion is libwebp's encoder version, "1.2.4".
func webpVersion() string {
	v := int(C.WebPGetEncoderVersion())
	return fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xFF, v&0xFF)
}

// webpErrors names libwebp's WebPEncodingError values.
var webpErrors = []string{"ok", "out of memory", "out of memory flushing bits", "NULL parameter",
	"invalid configuration", "bad dimension (at most 16383 pixels a side)", "partition 0 overflow",
	"partition overflow", "bad write", "file too big (over 4 GB)", "user abort"}

// encodeWebP compresses img with libwebp, lossless or lossy at quality
// (1..100), and calls use with the encoded file while libwebp's buffer is
// alive: no copy into Go memory.
func encodeWebP(img *image.NRGBA, quality int, lossless bool, use func([]byte) error) error {
	b := img.Rect
	if b.Dx() < 1 || b.Dy() < 1 {
		return fmt.Errorf("libwebp: cannot write %dx%d", b.Dx(), b.Dy())
	}
	var ll C.int
	if lossless {
		ll = 1
	}
	pix := img.Pix[img.PixOffset(b.Min.X, b.Min.Y):]
	var out *C.uint8_t
	var n C.size_t
	var code C.int
	// C reads the Go pixels during the call only, which the cgo rules
	// allow (the memory holds no Go pointers).
	rc := C.animegan_webp((*C.uint8_t)(unsafe.Pointer(&pix[0])), C.int(b.Dx()), C.int(b.Dy()), C.int(img.Stride),
		C.float(quality), ll, &out, &n, &code)
	if rc != 0 {
		msg := "invalid configuration"
		if int(code) >= 0 && int(code) < len(webpErrors) {
			msg = webpErrors[code]
		}
		return fmt.Errorf("libwebp: %s (%dx%d)", msg, b.Dx(), b.Dy())
	}
	defer C.WebPFree(unsafe.Pointer(out))
	return use(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n)))
}

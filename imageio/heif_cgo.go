//go:build cgo && !nolibheif

package imageio

/*
#cgo LDFLAGS: -lheif
#include <stdlib.h>
#include <string.h>
#include <libheif/heif.h>

// What the header of a HEIF file's primary image says.
struct animegan_heif_info {
	int width, height; // as displayed: after irot/imir/clap
	int bits;          // luma bits per sample
	int alpha;
	size_t icc_size;   // 0: no ICC profile
	int nclx;          // an nclx colr box was found
	int primaries, transfer;
	double xy[8];      // white, red, green, blue chromaticities
};

static void animegan_heif_msg(struct heif_error e, char *msg, int n) {
	strncpy(msg, e.message != NULL ? e.message : "libheif error", n - 1);
	msg[n - 1] = 0;
}

// animegan_heif_open parses the file's boxes (no decoding) and takes the
// primary image's handle. On an error *ctx and *h may be set and are freed
// by animegan_heif_close.
static struct heif_error animegan_heif_open(const void *data, size_t len, struct heif_context **ctx,
		struct heif_image_handle **h) {
	*h = NULL;
	*ctx = heif_context_alloc();
	struct heif_error e = heif_context_read_from_memory_without_copy(*ctx, data, len, NULL);
	if (e.code == heif_error_Ok) {
		e = heif_context_get_primary_image_handle(*ctx, h);
	}
	return e;
}

static void animegan_heif_close(struct heif_context *ctx, struct heif_image_handle *h) {
	if (h != NULL) {
		heif_image_handle_release(h);
	}
	if (ctx != NULL) {
		heif_context_free(ctx);
	}
}

// animegan_heif_info reads the primary image's header. It returns the
// libheif error code (0: none), with the message in msg.
static int animegan_heif_info(const void *data, size_t len, struct animegan_heif_info *info, char *msg, int n) {
	struct heif_context *ctx;
	struct heif_image_handle *h;
	struct heif_error e = animegan_heif_open(data, len, &ctx, &h);
	if (e.code != heif_error_Ok) {
		animegan_heif_msg(e, msg, n);
		animegan_heif_close(ctx, h);
		return e.code;
	}
	memset(info, 0, sizeof *info);
	info->width = heif_image_handle_get_width(h);
	info->height = heif_image_handle_get_height(h);
	info->bits = heif_image_handle_get_luma_bits_per_pixel(h);
	info->alpha = heif_image_handle_has_alpha_channel(h);
	enum heif_color_profile_type t = heif_image_handle_get_color_profile_type(h);
	if (t == heif_color_profile_type_prof || t == heif_color_profile_type_rICC) {
		info->icc_size = heif_image_handle_get_raw_color_profile_size(h);
	}
	struct heif_color_profile_nclx *c = NULL;
	if (heif_image_handle_get_nclx_color_profile(h, &c).code == heif_error_Ok && c != NULL) {
		info->nclx = 1;
		info->primaries = c->color_primaries;
		info->transfer = c->transfer_characteristics;
		float v[8] = {c->color_primary_white_x, c->color_primary_white_y, c->color_primary_red_x, c->color_primary_red_y,
			c->color_primary_green_x, c->color_primary_green_y, c->color_primary_blue_x, c->color_primary_blue_y};
		for (int i = 0; i < 8; i++) {
			info->xy[i] = v[i];
		}
		heif_nclx_color_profile_free(c);
	}
	animegan_heif_close(ctx, h);
	return 0;
}

// animegan_heif_decode decodes the primary image with its transforms
// applied (libheif's default) into out, w x h RGBA rows of w*4 bytes the
// caller allocated, and copies its ICC profile (icc_size bytes) into icc.
// Samples over 8 bits are rounded to 8. It returns the libheif error code,
// or -1 when the decoded size is not w x h.
static int animegan_heif_decode(const void *data, size_t len, unsigned char *out, int w, int h, int bits, int alpha,
		void *icc, size_t icc_size, char *msg, int n) {
	struct heif_context *ctx;
	struct heif_image_handle *hd;
	struct heif_error e = animegan_heif_open(data, len, &ctx, &hd);
	if (e.code == heif_error_Ok && icc != NULL && icc_size > 0) {
		e = heif_image_handle_get_raw_color_profile(hd, icc);
	}
	if (e.code != heif_error_Ok) {
		animegan_heif_msg(e, msg, n);
		animegan_heif_close(ctx, hd);
		return e.code;
	}
	// libheif rounds deeper samples to 8 bits itself when asked (options
	// version 2+): no 16-bit RGBA copy of the image on the way.
	struct heif_decoding_options *o = heif_decoding_options_alloc();
	int deep = bits > 8 && o->version < 2;
	if (!deep) {
		o->convert_hdr_to_8bit = 1;
	}
	struct heif_image *img = NULL;
	e = heif_decode_image(hd, &img, heif_colorspace_RGB,
		deep ? heif_chroma_interleaved_RRGGBBAA_LE : heif_chroma_interleaved_RGBA, o);
	heif_decoding_options_free(o);
	if (e.code != heif_error_Ok) {
		animegan_heif_msg(e, msg, n);
		animegan_heif_close(ctx, hd);
		return e.code;
	}
	int stride = 0;
	const uint8_t *p = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
	int rc = 0;
	if (p == NULL || heif_image_get_width(img, heif_channel_interleaved) != w ||
			heif_image_get_height(img, heif_channel_interleaved) != h) {
		strcpy(msg, "decoded image is not the size its header gives");
		rc = -1;
	} else if (!deep) {
		for (int y = 0; y < h; y++) {
			memcpy(out + (size_t)y * w * 4, p + (size_t)y * stride, (size_t)w * 4);
		}
	} else {
		int range = heif_image_get_bits_per_pixel_range(img, heif_channel_interleaved);
		unsigned maxv = (range > 8 && range <= 16) ? (1u << range) - 1 : 65535;
		for (int y = 0; y < h; y++) {
			const uint8_t *s = p + (size_t)y * stride;
			unsigned char *d = out + (size_t)y * w * 4;
			for (int i = 0; i < w * 4; i++) {
				unsigned v = (unsigned)s[2 * i] | (unsigned)s[2 * i + 1] << 8;
				if (v > maxv) {
					v = maxv;
				}
				d[i] = (unsigned char)((v * 255 + maxv / 2) / maxv);
			}
		}
	}
	if (rc == 0 && !alpha) {
		for (size_t i = 3; i < (size_t)w * h * 4; i += 4) {
			out[i] = 255;
		}
	}
	heif_image_release(img);
	animegan_heif_close(ctx, hd);
	return rc;
}

// animegan_heif_meta copies the primary image's first metadata item of
// type ("Exif", "mime") whose content type starts with ctype ("" for any)
// into a malloc'd buffer (*out, *n bytes; NULL when there is none).
static void animegan_heif_meta(const void *data, size_t len, const char *type, const char *ctype,
		void **out, size_t *n) {
	*out = NULL;
	*n = 0;
	struct heif_context *ctx;
	struct heif_image_handle *h;
	if (animegan_heif_open(data, len, &ctx, &h).code == heif_error_Ok) {
		heif_item_id ids[16];
		int k = heif_image_handle_get_list_of_metadata_block_IDs(h, type, ids, 16);
		for (int i = 0; i < k && *out == NULL; i++) {
			const char *ct = heif_image_handle_get_metadata_content_type(h, ids[i]);
			size_t size = heif_image_handle_get_metadata_size(h, ids[i]);
			if (size == 0 || size > (8u << 20) || strncmp(ct != NULL ? ct : "", ctype, strlen(ctype)) != 0) {
				continue;
			}
			void *b = malloc(size);
			if (b != NULL && heif_image_handle_get_metadata(h, ids[i], b).code == heif_error_Ok) {
				*out = b;
				*n = size;
			} else {
				free(b);
			}
		}
	}
	animegan_heif_close(ctx, h);
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"image"
	"sync"
	"unsafe"
)

const heifAvailable = true

// initHEIF loads libheif's plugins once per process (heif_init is
// reference-counted and never undone here: the decoders stay loaded).
var initHEIF = sync.OnceFunc(func() { C.heif_init(nil) })

func heifVersion() string { return C.GoString(C.heif_get_version()) }

// heifHasDecoder says whether libheif can decode f's codec here (Debian's
// libheif1 decodes HEVC with libde265 and AV1 with dav1d or libaom).
func heifHasDecoder(f Format) bool {
	initHEIF()
	if f == AVIF {
		return C.heif_have_decoder_for_format(C.heif_compression_AV1) != 0
	}
	return C.heif_have_decoder_for_format(C.heif_compression_HEVC) != 0
}

// heifError classifies a libheif error code.
func heifError(f Format, code C.int, msg string) error {
	switch code {
	case C.heif_error_Unsupported_filetype, C.heif_error_Unsupported_feature:
		return &formatError{msg: fmt.Sprintf("unsupported %s variant: %s", f.displayName(), msg)}
	case C.heif_error_Memory_allocation_error:
		return fmt.Errorf("decoding %s: %s", f.displayName(), msg)
	}
	return fmt.Errorf("%w %s: %s", ErrCorrupt, f.displayName(), msg)
}

// heifInfo reads a HEIF file's primary image header; data is the whole file.
func heifInfo(data []byte, f Format) (C.struct_animegan_heif_info, error) {
	var info C.struct_animegan_heif_info
	if !heifHasDecoder(f) {
		return info, noHEIF(f)
	}
	if len(data) == 0 {
		return info, fmt.Errorf("%w %s: empty", ErrCorrupt, f.displayName())
	}
	var msg [256]C.char
	if rc := C.animegan_heif_info(unsafe.Pointer(&data[0]), C.size_t(len(data)), &info, &msg[0], C.int(len(msg))); rc != 0 {
		return info, heifError(f, rc, C.GoString(&msg[0]))
	}
	return info, nil
}

// heifConfig is the primary image's displayed size (irot applied).
func heifConfig(data []byte, f Format) (image.Config, error) {
	info, err := heifInfo(data, f)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{Width: int(info.width), Height: int(info.height)}, nil
}

// heifMeta reads the EXIF and XMP items of a HEIF file's primary image.
// An Exif item starts with the offset of its TIFF header (ISO/IEC
// 23008-12 A.2.1), usually past "Exif\0\0".
func heifMeta(data []byte) rawMeta {
	if len(data) == 0 {
		return rawMeta{}
	}
	get := func(typ, ctype string) []byte {
		ct, cc := C.CString(typ), C.CString(ctype)
		defer C.free(unsafe.Pointer(ct))
		defer C.free(unsafe.Pointer(cc))
		var p unsafe.Pointer
		var n C.size_t
		C.animegan_heif_meta(unsafe.Pointer(&data[0]), C.size_t(len(data)), ct, cc, &p, &n)
		if p == nil {
			return nil
		}
		defer C.free(p)
		return C.GoBytes(p, C.int(n))
	}
	var r rawMeta
	if e := get("Exif", ""); len(e) >= 4 {
		if off := int64(binary.BigEndian.Uint32(e)); off <= int64(len(e)-4) {
			r.exif = e[4+off:]
		}
	}
	r.xmp = get("mime", "application/rdf+xml")
	return r
}

// decodeHEIF decodes the primary image of a HEIF file (the whole file in
// data) upright, as 8-bit NRGBA, with its colour profile: the ICC profile
// when it has one, else one made from its nclx box.
func decodeHEIF(data []byte, f Format) (image.Image, profileSource, error) {
	info, err := heifInfo(data, f)
	if err != nil {
		return nil, profileSource{}, err
	}
	w, h := int(info.width), int(info.height)
	if w <= 0 || h <= 0 {
		return nil, profileSource{}, fmt.Errorf("%w %s: invalid dimensions %dx%d", ErrCorrupt, f.displayName(), w, h)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	var icc []byte
	var iccPtr unsafe.Pointer
	if info.icc_size > 0 && info.icc_size < maxProfile {
		icc = make([]byte, info.icc_size)
		iccPtr = unsafe.Pointer(&icc[0])
	}
	var msg [256]C.char
	rc := C.animegan_heif_decode(unsafe.Pointer(&data[0]), C.size_t(len(data)), (*C.uchar)(unsafe.Pointer(&img.Pix[0])),
		C.int(w), C.int(h), info.bits, info.alpha, iccPtr, C.size_t(len(icc)), &msg[0], C.int(len(msg)))
	if rc != 0 {
		return nil, profileSource{}, heifError(f, rc, C.GoString(&msg[0]))
	}
	var ps profileSource
	switch {
	case icc != nil:
		ps.icc = icc
	case info.nclx != 0:
		n := nclx{primaries: int(info.primaries), transfer: int(info.transfer)}
		for i := range n.xy {
			n.xy[i] = float64(info.xy[i])
		}
		ps = n.profile()
	}
	return img, ps, nil
}

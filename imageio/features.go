package imageio

// ReadFormats lists the formats this binary decodes.
func ReadFormats() []Format {
	f := append([]Format(nil), Formats...)
	for _, h := range []Format{HEIC, AVIF} {
		if CanRead(h) {
			f = append(f, h)
		}
	}
	return f
}

// WriteFormats lists the formats this binary encodes: JPEG and PNG always,
// WebP when libwebp was linked in.
func WriteFormats() []Format {
	f := []Format{JPEG, PNG}
	if webpEncoder {
		f = append(f, WebP)
	}
	return f
}

// CanWrite says whether Encode can write f in this binary.
func CanWrite(f Format) bool {
	for _, w := range WriteFormats() {
		if w == f {
			return true
		}
	}
	return false
}

// Features lists the optional C libraries linked into this binary, each
// decided at build time by a build tag (the Makefile leaves out a library
// whose header is missing): a file per library defines its constant.
func Features() []string {
	var f []string
	if libjpegEncoder {
		f = append(f, "libjpeg-turbo (JPEG decode and encode)")
	}
	if webpEncoder {
		f = append(f, "libwebp "+webpVersion()+" (WebP encode)")
	}
	if heifAvailable {
		f = append(f, "libheif "+heifVersion()+" (HEIC and AVIF decode)")
	}
	if lcmsAvailable {
		f = append(f, "lcms2 "+lcmsVersion()+" (ICC colour profiles)")
	}
	return f
}

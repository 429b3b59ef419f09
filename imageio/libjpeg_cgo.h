//go:build cgo && !nolibjpeg

// Shared by the libjpeg-turbo decoder (jpegscale_cgo.go) and encoder
// (jpegencode_cgo.go); each includes it in its own cgo preamble.

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

// Warnings are counted (num_warnings), not printed.
static void animegan_quiet(j_common_ptr c) {}

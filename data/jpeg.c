/* jpeg.c — JPEG photos through libjpeg(-turbo), for raw_synth.  Baseline and
 * progressive; grey and CMYK are converted to RGB by the library where it
 * can (JCS_RGB output); a file it cannot decode is an error naming it. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "data_int.h"
#include "raw.h"

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

static void on_message(j_common_ptr c) { (void)c; }   /* warnings (a truncated file) stay quiet */

kd_data_status kd_jpeg_read(const char *path, uint8_t **pix, int64_t *h, int64_t *w,
                            char *err, size_t errlen)
{
    *pix = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot open", path);
    struct jpeg_decompress_struct d;
    jerr e;
    uint8_t *volatile out = NULL;
    memset(&d, 0, sizeof d);
    d.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    e.pub.output_message = on_message;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&d);
        fclose(f);
        free(out);
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: not a JPEG file libjpeg can read: %s",
                            path, e.msg);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    size_t row = (size_t)d.output_width * 3;
    if (d.output_components != 3 || !(out = malloc(row * d.output_height)))
        longjmp(e.jb, 1);
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = out + row * d.output_scanline;
        jpeg_read_scanlines(&d, &r, 1);
    }
    *h = d.output_height;
    *w = d.output_width;
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(f);
    *pix = out;
    return KD_DATA_OK;
}

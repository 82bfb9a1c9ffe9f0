#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/chat.h"
#include "tandem/err.h"

/* Reads tests/data/chat/<name> into a malloc'd buffer. */
static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/chat/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    assert_true(*len > 0);
    return buf;
}

static int sniff_file(const char *name, struct tdm_chat_image_info *info)
{
    size_t len;
    uint8_t *p = load(name, &len);
    char err[128] = "";
    int rc = tdm_chat_image_sniff(p, len, info, err, sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0');
    free(p);
    return rc;
}

static void real_images(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        enum tdm_chat_image type;
    } ok[] = {{"red_24x10.png", TDM_CHAT_IMAGE_PNG},
              {"red_24x10.jpg", TDM_CHAT_IMAGE_JPEG},
              {"red_24x10_lossy.webp", TDM_CHAT_IMAGE_WEBP},
              {"red_24x10_lossless.webp", TDM_CHAT_IMAGE_WEBP},
              {"red_24x10_alpha.webp", TDM_CHAT_IMAGE_WEBP},
              {"jpeg_named.png", TDM_CHAT_IMAGE_JPEG}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct tdm_chat_image_info info;
        assert_int_equal(sniff_file(ok[i].file, &info), 0);
        assert_int_equal(info.type, ok[i].type);
        assert_int_equal(info.width, 24);
        assert_int_equal(info.height, 10);
        assert_false(info.metadata);
    }
}

static void broken_images(void **state)
{
    (void)state;
    struct tdm_chat_image_info info;
    assert_int_equal(sniff_file("truncated.png", &info), TDM_ETRUNC);
    assert_int_equal(info.type, TDM_CHAT_IMAGE_NONE);
    assert_int_equal(sniff_file("truncated.jpg", &info), TDM_ETRUNC);
    assert_int_equal(sniff_file("truncated.webp", &info), TDM_ETRUNC);
    assert_int_equal(sniff_file("huge_100000.png", &info), TDM_ETOOBIG);
    assert_int_equal(sniff_file("trailing.png", &info), TDM_EINVAL);
    assert_int_equal(sniff_file("exif.jpg", &info), 0);
    assert_true(info.metadata);
}

/* Every proper prefix of a good picture is refused: an upload cut anywhere is caught. */
static void every_prefix_refused(void **state)
{
    (void)state;
    const char *files[] = {"red_24x10.png", "red_24x10.jpg", "red_24x10_lossy.webp",
                           "red_24x10_lossless.webp", "red_24x10_alpha.webp"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        uint8_t *p = load(files[f], &len);
        for (size_t n = 0; n < len; n++) {
            struct tdm_chat_image_info info;
            uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan sees any over-read */
            memcpy(copy, p, n);
            int rc = tdm_chat_image_sniff(copy, n, &info, NULL, 0);
            free(copy);
            if (rc == 0)
                fail_msg("%s: prefix of %zu bytes accepted", files[f], n);
        }
        free(p);
    }
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t crc32_ref(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

static int png_with_ihdr(uint32_t w, uint32_t h, uint8_t depth, uint8_t color, bool fix_crc)
{
    size_t len;
    uint8_t *p = load("red_24x10.png", &len);
    be32_put(p + 16, w);
    be32_put(p + 20, h);
    p[24] = depth;
    p[25] = color;
    if (fix_crc)
        be32_put(p + 29, crc32_ref(p + 12, 17));
    struct tdm_chat_image_info info;
    int rc = tdm_chat_image_sniff(p, len, &info, NULL, 0);
    free(p);
    return rc;
}

static void png_header_rules(void **state)
{
    (void)state;
    assert_int_equal(png_with_ihdr(24, 10, 8, 2, true), 0);
    assert_int_equal(png_with_ihdr(8192, 8192, 8, 2, true), 0);
    assert_int_equal(png_with_ihdr(8193, 10, 8, 2, true), TDM_ETOOBIG);
    assert_int_equal(png_with_ihdr(10, 8193, 8, 2, true), TDM_ETOOBIG);
    assert_int_equal(png_with_ihdr(0, 10, 8, 2, true), TDM_EINVAL);
    assert_int_equal(png_with_ihdr(0x80000000u, 10, 8, 2, true), TDM_EINVAL);
    assert_int_equal(png_with_ihdr(24, 10, 3, 2, true), TDM_EINVAL); /* depth 3 */
    assert_int_equal(png_with_ihdr(24, 10, 8, 5, true), TDM_EINVAL); /* colour type 5 */
    assert_int_equal(png_with_ihdr(24, 10, 16, 3, true), TDM_EINVAL);
    assert_int_equal(png_with_ihdr(30, 10, 8, 2, false), TDM_EINVAL); /* stale CRC */
}

static int sniff_patched_jpeg(size_t at, uint8_t v)
{
    size_t len;
    uint8_t *p = load("red_24x10.jpg", &len);
    /* find the SOF0 segment: FF C0 len(2) P Y(2) X(2) Nf */
    size_t sof = 0;
    for (size_t i = 2; i + 1 < len; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    assert_true(sof > 0);
    p[sof + at] = v;
    struct tdm_chat_image_info info;
    int rc = tdm_chat_image_sniff(p, len, &info, NULL, 0);
    if (rc == 0)
        assert_int_equal(info.type, TDM_CHAT_IMAGE_JPEG);
    free(p);
    return rc;
}

static void jpeg_frame_rules(void **state)
{
    (void)state;
    assert_int_equal(sniff_patched_jpeg(1, 0xC2), 0);           /* progressive */
    assert_int_equal(sniff_patched_jpeg(1, 0xC1), 0);           /* extended */
    assert_int_equal(sniff_patched_jpeg(1, 0xC3), TDM_EUNSUPP); /* lossless */
    assert_int_equal(sniff_patched_jpeg(1, 0xC9), TDM_EUNSUPP); /* arithmetic */
    assert_int_equal(sniff_patched_jpeg(4, 12), TDM_EUNSUPP);   /* 12-bit */
    assert_int_equal(sniff_patched_jpeg(6, 0), TDM_EUNSUPP);    /* height 0: DNL */
    assert_int_equal(sniff_patched_jpeg(5, 0x20), TDM_ETOOBIG); /* height 0x200a > 8192 */
    assert_int_equal(sniff_patched_jpeg(8, 0), TDM_EINVAL);     /* width 0 */
    assert_int_equal(sniff_patched_jpeg(9, 5), TDM_EINVAL);     /* Nf disagrees with length */
    assert_int_equal(sniff_patched_jpeg(3, 1), TDM_EINVAL);     /* segment length 1 */
    assert_int_equal(sniff_patched_jpeg(2, 0xFF), TDM_ETRUNC);  /* segment past the end */
    /* markers before any frame header */
    const uint8_t eoi[] = {0xFF, 0xD8, 0xFF, 0xD9};
    const uint8_t sos_first[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9};
    const uint8_t not_marker[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x12, 0x34};
    struct tdm_chat_image_info info;
    assert_int_equal(tdm_chat_image_sniff(eoi, sizeof eoi, &info, NULL, 0), TDM_EINVAL);
    assert_int_equal(tdm_chat_image_sniff(sos_first, sizeof sos_first, &info, NULL, 0), TDM_EINVAL);
    assert_int_equal(tdm_chat_image_sniff(not_marker, sizeof not_marker, &info, NULL, 0),
                     TDM_EINVAL);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A RIFF/WEBP file holding one chunk (fourcc, data). */
static int sniff_webp_chunk(const char *fourcc, const uint8_t *data, size_t n)
{
    uint8_t buf[64];
    size_t padded = n + (n & 1);
    assert_true(20 + padded <= sizeof buf);
    memcpy(buf, "RIFF", 4);
    put_le32(buf + 4, (uint32_t)(12 + padded));
    memcpy(buf + 8, "WEBP", 4);
    memcpy(buf + 12, fourcc, 4);
    put_le32(buf + 16, (uint32_t)n);
    memcpy(buf + 20, data, n);
    if (n & 1)
        buf[20 + n] = 0;
    struct tdm_chat_image_info info;
    return tdm_chat_image_sniff(buf, 20 + padded, &info, NULL, 0);
}

static void webp_header_rules(void **state)
{
    (void)state;
    /* VP8L: 0x2F, then width-1 and height-1 in 14 bits each */
    uint8_t vp8l[8] = {0x2F};
    uint32_t bits = (24 - 1) | (uint32_t)(10 - 1) << 14;
    put_le32(vp8l + 1, bits);
    assert_int_equal(sniff_webp_chunk("VP8L", vp8l, 8), 0);
    put_le32(vp8l + 1, (16384 - 1) | (uint32_t)(10 - 1) << 14);
    assert_int_equal(sniff_webp_chunk("VP8L", vp8l, 8), TDM_ETOOBIG);
    put_le32(vp8l + 1, bits | 1u << 29); /* version 1 */
    assert_int_equal(sniff_webp_chunk("VP8L", vp8l, 8), TDM_EINVAL);
    vp8l[0] = 0x2E;
    assert_int_equal(sniff_webp_chunk("VP8L", vp8l, 8), TDM_EINVAL);
    /* VP8: key-frame tag, start code, 14-bit sizes */
    uint8_t vp8[10] = {0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 24, 0, 10, 0};
    assert_int_equal(sniff_webp_chunk("VP8 ", vp8, 10), 0);
    vp8[0] |= 1; /* interframe */
    assert_int_equal(sniff_webp_chunk("VP8 ", vp8, 10), TDM_EINVAL);
    vp8[0] &= 0xFE;
    vp8[7] = 0x30; /* width 0x3018 */
    assert_int_equal(sniff_webp_chunk("VP8 ", vp8, 10), TDM_ETOOBIG);
    vp8[6] = vp8[7] = 0;
    assert_int_equal(sniff_webp_chunk("VP8 ", vp8, 10), TDM_EINVAL); /* width 0 */
    assert_int_equal(sniff_webp_chunk("VP8 ", vp8, 9), TDM_EINVAL);
    /* VP8X alone: a canvas but no image */
    uint8_t vp8x[10] = {0, 0, 0, 0, 23, 0, 0, 9, 0, 0};
    assert_int_equal(sniff_webp_chunk("VP8X", vp8x, 10), TDM_EINVAL);
    vp8x[6] = 1; /* canvas width 65560 */
    assert_int_equal(sniff_webp_chunk("VP8X", vp8x, 10), TDM_ETOOBIG);
    assert_int_equal(sniff_webp_chunk("ALPH", vp8x, 10), TDM_EINVAL);
    /* RIFF size disagreeing with the file */
    size_t len;
    uint8_t *p = load("red_24x10_lossless.webp", &len);
    struct tdm_chat_image_info info;
    put_le32(p + 4, (uint32_t)(len - 8 - 2));
    assert_int_equal(tdm_chat_image_sniff(p, len, &info, NULL, 0), TDM_EINVAL);
    put_le32(p + 4, 0xFFFFFFF0u);
    assert_int_equal(tdm_chat_image_sniff(p, len, &info, NULL, 0), TDM_ETRUNC);
    free(p);
}

static void not_pictures(void **state)
{
    (void)state;
    struct tdm_chat_image_info info;
    char err[128];
    const char *gif = "GIF89a\x01\x00\x01\x00";
    assert_int_equal(tdm_chat_image_sniff((const uint8_t *)gif, 10, &info, err, sizeof err),
                     TDM_EINVAL);
    assert_non_null(strstr(err, "not JPEG"));
    assert_int_equal(tdm_chat_image_sniff(NULL, 0, &info, NULL, 0), TDM_EINVAL);
    assert_int_equal(tdm_chat_image_sniff((const uint8_t *)"\xFF\xD8", 2, &info, NULL, 0),
                     TDM_EINVAL);
    const char *svg = "<svg xmlns='http://www.w3.org/2000/svg'/>";
    assert_int_equal(tdm_chat_image_sniff((const uint8_t *)svg, strlen(svg), &info, NULL, 0),
                     TDM_EINVAL);
}

static void mime_names(void **state)
{
    (void)state;
    enum tdm_chat_image t;
    assert_int_equal(tdm_chat_image_parse_mime("image/png", 9, &t), 0);
    assert_int_equal(t, TDM_CHAT_IMAGE_PNG);
    assert_int_equal(tdm_chat_image_parse_mime("image/webp", 10, &t), 0);
    assert_int_equal(t, TDM_CHAT_IMAGE_WEBP);
    assert_int_equal(tdm_chat_image_parse_mime("image/jpeg", 10, &t), 0);
    assert_int_equal(tdm_chat_image_parse_mime("image/jpg", 9, &t), TDM_EINVAL);
    assert_int_equal(tdm_chat_image_parse_mime("image/PNG", 9, &t), TDM_EINVAL);
    assert_int_equal(tdm_chat_image_parse_mime("image/svg+xml", 13, &t), TDM_EINVAL);
    assert_int_equal(tdm_chat_image_parse_mime(NULL, 0, &t), TDM_EINVAL);
    assert_string_equal(tdm_chat_image_mime(TDM_CHAT_IMAGE_JPEG), "image/jpeg");
    assert_null(tdm_chat_image_mime(TDM_CHAT_IMAGE_NONE));
    assert_null(tdm_chat_image_mime((enum tdm_chat_image)9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_images),          cmocka_unit_test(broken_images),
        cmocka_unit_test(every_prefix_refused), cmocka_unit_test(png_header_rules),
        cmocka_unit_test(jpeg_frame_rules),     cmocka_unit_test(webp_header_rules),
        cmocka_unit_test(not_pictures),         cmocka_unit_test(mime_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

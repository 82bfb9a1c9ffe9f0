/* The picture sniffer of the chat module (declared in tandem/chat.h): identifies JPEG, PNG
 * and WebP by their bytes and reads their dimensions, with a bounds check before every read. */
#include "tandem/chat.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <string.h>

/* ---- picture sniffing: bounded readers ---- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int check_dims(const char *what, uint32_t w, uint32_t h, struct tdm_chat_image_info *out,
                      char *err, size_t errlen)
{
    if (w == 0 || h == 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "%s: zero width or height", what);
    if (w > TDM_CHAT_IMAGE_DIM_MAX || h > TDM_CHAT_IMAGE_DIM_MAX)
        return tdm_seterr(err, errlen, TDM_ETOOBIG, "%s: %ux%u is over %dx%d pixels", what, w, h,
                          TDM_CHAT_IMAGE_DIM_MAX, TDM_CHAT_IMAGE_DIM_MAX);
    out->width = w;
    out->height = h;
    return 0;
}

/* ---- PNG (ISO/IEC 15948, W3C PNG 2nd ed.) ---- */

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

/* CRC-32 of PNG section 5.5; bitwise, as it only runs over IHDR's 17 bytes. */
static uint32_t crc32_png(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Allowed bit depths per colour type (PNG 11.2.2, table 11.1). */
static bool png_depth_ok(uint8_t color, uint8_t depth)
{
    switch (color) {
    case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6: return depth == 8 || depth == 16;
    default: return false;
    }
}

static int png_ihdr(const uint8_t *chunk, uint32_t clen, struct tdm_chat_image_info *out, char *err,
                    size_t errlen)
{
    const uint8_t *d = chunk + 8;
    if (memcmp(chunk + 4, "IHDR", 4) != 0 || clen != 13)
        return tdm_seterr(err, errlen, TDM_EINVAL, "png: first chunk is not a 13-byte IHDR");
    if (crc32_png(chunk + 4, 17) != tdm_rd32(d + 13))
        return tdm_seterr(err, errlen, TDM_EINVAL, "png: IHDR CRC mismatch");
    if (!png_depth_ok(d[9], d[8]) || d[10] != 0 || d[11] != 0 || d[12] > 1)
        return tdm_seterr(err, errlen, TDM_EINVAL, "png: bad IHDR depth/colour/method fields");
    uint32_t w = tdm_rd32(d), h = tdm_rd32(d + 4);
    if (w > 0x7FFFFFFFu || h > 0x7FFFFFFFu) /* PNG 12.2: four-byte values < 2^31 */
        return tdm_seterr(err, errlen, TDM_EINVAL, "png: dimension over 2^31-1");
    return check_dims("png", w, h, out, err, errlen);
}

static bool png_type_ok(const uint8_t *t)
{
    for (int i = 0; i < 4; i++)
        if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z')))
            return false;
    return true;
}

static int sniff_png(const uint8_t *p, size_t len, struct tdm_chat_image_info *out, char *err,
                     size_t errlen)
{
    size_t off = sizeof png_sig;
    bool idat = false;
    for (;;) {
        if (len - off < 12)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "png: chunk at %zu cut short", off);
        uint32_t clen = tdm_rd32(p + off);
        const uint8_t *type = p + off + 4;
        if (clen > 0x7FFFFFFFu || !png_type_ok(type))
            return tdm_seterr(err, errlen, TDM_EINVAL, "png: bad chunk header at %zu", off);
        if (clen > len - off - 12)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "png: chunk at %zu runs past the end", off);
        int rc = 0;
        if (off == sizeof png_sig)
            rc = png_ihdr(p + off, clen, out, err, errlen);
        else if (memcmp(type, "IHDR", 4) == 0)
            rc = tdm_seterr(err, errlen, TDM_EINVAL, "png: second IHDR at %zu", off);
        if (rc < 0)
            return rc;
        if (memcmp(type, "IDAT", 4) == 0)
            idat = true;
        if (!memcmp(type, "eXIf", 4) || !memcmp(type, "tEXt", 4) || !memcmp(type, "zTXt", 4) ||
            !memcmp(type, "iTXt", 4))
            out->metadata = true;
        off += 12 + (size_t)clen;
        if (memcmp(type, "IEND", 4) == 0)
            break;
    }
    if (!idat)
        return tdm_seterr(err, errlen, TDM_EINVAL, "png: no IDAT chunk");
    if (off != len) /* a polyglot hides a second file here */
        return tdm_seterr(err, errlen, TDM_EINVAL, "png: %zu bytes after IEND", len - off);
    return 0;
}

/* ---- JPEG (ITU-T T.81 annex B) ---- */

static int jpeg_sof(uint8_t m, const uint8_t *seg, size_t seglen, struct tdm_chat_image_info *out,
                    char *err, size_t errlen)
{
    /* C0 baseline, C1 extended, C2 progressive (Huffman): what browsers decode. C3 lossless
     * and C5..CF hierarchical or arithmetic-coded frames they do not. */
    if (m != 0xC0 && m != 0xC1 && m != 0xC2)
        return tdm_seterr(err, errlen, TDM_EUNSUPP, "jpeg: frame type %02X not shown by browsers",
                          m);
    if (seglen < 6 || seglen != 6 + 3 * (size_t)seg[5] || seg[5] == 0 || seg[5] > 4)
        return tdm_seterr(err, errlen, TDM_EINVAL, "jpeg: malformed frame header");
    if (seg[0] != 8)
        return tdm_seterr(err, errlen, TDM_EUNSUPP, "jpeg: %u-bit samples", seg[0]);
    uint32_t h = tdm_rd16(seg + 1), w = tdm_rd16(seg + 3);
    if (h == 0) /* T.81 B.2.5: height given later by a DNL marker */
        return tdm_seterr(err, errlen, TDM_EUNSUPP, "jpeg: height defined by DNL");
    return check_dims("jpeg", w, h, out, err, errlen);
}

static bool jpeg_sof_marker(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Reads marker segments from SOI up to the first SOS; the entropy-coded data after it is not
 * parsed, but the file must end with EOI so that a cut upload is caught. */
static int sniff_jpeg(const uint8_t *p, size_t len, struct tdm_chat_image_info *out, char *err,
                      size_t errlen)
{
    size_t off = 2;
    bool sof = false;
    for (;;) {
        if (off >= len)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "jpeg: no scan before the end");
        if (p[off] != 0xFF)
            return tdm_seterr(err, errlen, TDM_EINVAL, "jpeg: no marker at %zu", off);
        while (off < len && p[off] == 0xFF) /* B.1.1.2: fill bytes */
            off++;
        if (off >= len)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "jpeg: cut in a marker");
        uint8_t m = p[off++];
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) /* RSTn, TEM: no length */
            continue;
        if (m == 0x00 || m == 0xD8 || m == 0xD9)
            return tdm_seterr(err, errlen, TDM_EINVAL, "jpeg: marker %02X at %zu", m, off - 1);
        if (len - off < 2)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "jpeg: cut in a segment length");
        size_t seglen = tdm_rd16(p + off);
        if (seglen < 2)
            return tdm_seterr(err, errlen, TDM_EINVAL, "jpeg: segment length %zu", seglen);
        if (seglen > len - off)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "jpeg: segment at %zu runs past the end",
                              off - 2);
        if (jpeg_sof_marker(m)) {
            if (sof)
                return tdm_seterr(err, errlen, TDM_EINVAL, "jpeg: two frame headers");
            int rc = jpeg_sof(m, p + off + 2, seglen - 2, out, err, errlen);
            if (rc < 0)
                return rc;
            sof = true;
        }
        if (m == 0xE1) /* APP1: Exif or XMP */
            out->metadata = true;
        off += seglen;
        if (m == 0xDA)
            break;
    }
    if (!sof)
        return tdm_seterr(err, errlen, TDM_EINVAL, "jpeg: scan before any frame header");
    if (len - off < 2 || p[len - 2] != 0xFF || p[len - 1] != 0xD9)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "jpeg: does not end with EOI");
    return 0;
}

/* ---- WebP (RFC 9649) ---- */

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

/* Dimensions of a "VP8 " or "VP8L" bitstream chunk (ch: its 8-byte header, then size bytes). */
static int webp_bitstream(const uint8_t *ch, size_t size, uint32_t *w, uint32_t *h, char *err,
                          size_t errlen)
{
    const uint8_t *d = ch + 8;
    if (memcmp(ch, "VP8 ", 4) == 0) {
        /* RFC 6386 9.1: 3-byte frame tag (bit 0 clear on a key frame), start code, then
         * 14-bit width and height each with 2 scaling bits */
        if (size < 10)
            return tdm_seterr(err, errlen, TDM_EINVAL, "webp: VP8 chunk too short");
        if ((d[0] & 1) || d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A)
            return tdm_seterr(err, errlen, TDM_EINVAL, "webp: VP8 data is not a key frame");
        *w = le16(d + 6) & 0x3FFF;
        *h = le16(d + 8) & 0x3FFF;
        return 0;
    }
    /* RFC 9649 3.2: signature 0x2F, 14-bit width-1, 14-bit height-1, alpha, 3-bit version */
    if (size < 5 || d[0] != 0x2F)
        return tdm_seterr(err, errlen, TDM_EINVAL, "webp: bad VP8L header");
    uint32_t bits = le32(d + 1);
    if (bits >> 29)
        return tdm_seterr(err, errlen, TDM_EINVAL, "webp: VP8L version %u", bits >> 29);
    *w = (bits & 0x3FFF) + 1;
    *h = ((bits >> 14) & 0x3FFF) + 1;
    return 0;
}

static bool webp_is_bitstream(const uint8_t *ch)
{
    return !memcmp(ch, "VP8 ", 4) || !memcmp(ch, "VP8L", 4);
}

/* One top-level chunk. The first decides the canvas: a bitstream (simple format) or VP8X
 * (extended, RFC 9649 2.7: flags, 3 reserved bytes, 24-bit canvas width-1 and height-1).
 * Every bitstream chunk is checked, so a small canvas cannot front a huge frame. */
static int webp_chunk(const uint8_t *ch, size_t size, bool first, struct tdm_chat_image_info *out,
                      char *err, size_t errlen)
{
    uint32_t w = 0, h = 0; /* set by every branch below; zero is refused anyway */
    int rc;
    if (webp_is_bitstream(ch)) {
        if ((rc = webp_bitstream(ch, size, &w, &h, err, errlen)) < 0)
            return rc;
        struct tdm_chat_image_info tmp = *out;
        return check_dims("webp", w, h, first ? out : &tmp, err, errlen);
    }
    if (!first)
        return 0;
    if (memcmp(ch, "VP8X", 4) != 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "webp: first chunk is not VP8, VP8L or VP8X");
    if (size < 10)
        return tdm_seterr(err, errlen, TDM_EINVAL, "webp: VP8X chunk too short");
    if (ch[8] & 0x0C) /* EXIF or XMP flag */
        out->metadata = true;
    return check_dims("webp", le24(ch + 12) + 1, le24(ch + 15) + 1, out, err, errlen);
}

static int sniff_webp(const uint8_t *p, size_t len, struct tdm_chat_image_info *out, char *err,
                      size_t errlen)
{
    uint32_t riff = le32(p + 4);
    if (riff < 4 || (size_t)riff > len - 8)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "webp: RIFF size %u past the end", riff);
    if ((size_t)riff != len - 8)
        return tdm_seterr(err, errlen, TDM_EINVAL, "webp: %zu bytes after the RIFF data",
                          len - 8 - riff);
    size_t off = 12;
    bool image = false;
    while (off < len) {
        if (len - off < 8)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "webp: chunk at %zu cut short", off);
        size_t size = le32(p + off + 4), padded = size + (size & 1);
        if (padded > len - off - 8)
            return tdm_seterr(err, errlen, TDM_ETRUNC, "webp: chunk at %zu runs past the end", off);
        const uint8_t *ch = p + off;
        int rc = webp_chunk(ch, size, off == 12, out, err, errlen);
        if (rc < 0)
            return rc;
        if (webp_is_bitstream(ch) || !memcmp(ch, "ANMF", 4))
            image = true;
        if (!memcmp(ch, "EXIF", 4) || !memcmp(ch, "XMP ", 4))
            out->metadata = true;
        off += 8 + padded;
    }
    if (!image)
        return tdm_seterr(err, errlen, TDM_EINVAL, "webp: no image data");
    return 0;
}

int tdm_chat_image_sniff(const uint8_t *p, size_t len, struct tdm_chat_image_info *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (p && len >= sizeof png_sig && memcmp(p, png_sig, sizeof png_sig) == 0) {
        out->type = TDM_CHAT_IMAGE_PNG;
        rc = sniff_png(p, len, out, err, errlen);
    } else if (p && len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
        out->type = TDM_CHAT_IMAGE_JPEG;
        rc = sniff_jpeg(p, len, out, err, errlen);
    } else if (p && len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) {
        out->type = TDM_CHAT_IMAGE_WEBP;
        rc = sniff_webp(p, len, out, err, errlen);
    } else {
        rc = tdm_seterr(err, errlen, TDM_EINVAL, "picture: not JPEG, PNG or WebP");
    }
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

static const char *const mimes[] = {NULL, "image/jpeg", "image/png", "image/webp"};

const char *tdm_chat_image_mime(enum tdm_chat_image type)
{
    return (unsigned)type < sizeof mimes / sizeof mimes[0] ? mimes[type] : NULL;
}

int tdm_chat_image_parse_mime(const char *s, size_t len, enum tdm_chat_image *out)
{
    for (size_t i = 1; s && i < sizeof mimes / sizeof mimes[0]; i++) {
        if (strlen(mimes[i]) == len && memcmp(mimes[i], s, len) == 0) {
            *out = (enum tdm_chat_image)i;
            return 0;
        }
    }
    return TDM_EINVAL;
}

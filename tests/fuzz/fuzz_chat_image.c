/* libFuzzer target: the chat's picture sniffer, then the same bytes as an upload.
 *
 * Input: the picture bytes as they come from base64. The sniffer must never read out of
 * bounds; when it accepts, the result must be sane, and sending the bytes as a picture with
 * the sniffed MIME type must succeed (and with another type fail), while the chat owns and
 * frees the buffer either way. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/chat.h"
#include "tandem/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *dup_bytes(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        abort();
    if (size)
        memcpy(p, data, size);
    return p;
}

static void as_upload(const uint8_t *data, size_t size, enum tdm_chat_image type)
{
    static const struct tdm_chat_sender who = {"AAAAAAAAAAAAAAAAAAAAAA", "Fuzz", TDM_ROLE_MENTEE};
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    cfg.allow_metadata = true;
    struct tdm_chat *c = NULL;
    if (tdm_chat_create(&cfg, &c, NULL, 0) < 0)
        abort();
    const char *mime = tdm_chat_image_mime(type);
    const char *other =
        tdm_chat_image_mime(type == TDM_CHAT_IMAGE_PNG ? TDM_CHAT_IMAGE_JPEG : TDM_CHAT_IMAGE_PNG);
    const struct tdm_chat_message *m = NULL;
    int rc = tdm_chat_send_picture(c, &who, mime, strlen(mime), dup_bytes(data, size), size, NULL,
                                   0, 0, &m, NULL, 0);
    if (size <= cfg.max_picture_bytes) {
        if (rc != 0 || !m || m->picture_len != size || memcmp(m->picture, data, size) != 0)
            abort();
    } else if (rc != TDM_ETOOBIG) {
        abort();
    }
    rc = tdm_chat_send_picture(c, &who, other, strlen(other), dup_bytes(data, size), size, NULL, 0,
                               0, NULL, NULL, 0);
    if (rc == 0)
        abort();
    tdm_chat_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so that ASan catches a read one past the end */
    uint8_t *p = dup_bytes(data, size);
    struct tdm_chat_image_info info;
    char err[128];
    int rc = tdm_chat_image_sniff(p, size, &info, err, sizeof err);
    if (rc == 0) {
        if (info.type == TDM_CHAT_IMAGE_NONE || !tdm_chat_image_mime(info.type) || info.width < 1 ||
            info.height < 1 || info.width > TDM_CHAT_IMAGE_DIM_MAX ||
            info.height > TDM_CHAT_IMAGE_DIM_MAX)
            abort();
        as_upload(p, size, info.type);
    } else if (rc != TDM_EINVAL && rc != TDM_ETRUNC && rc != TDM_EUNSUPP && rc != TDM_ETOOBIG) {
        abort();
    } else if (info.type != TDM_CHAT_IMAGE_NONE || info.width || info.height) {
        abort();
    }
    free(p);
    return 0;
}

/* base64.c -- see base64.h. */
#include "base64.h"

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool base64_decode(const char *text, size_t len, struct buf *out)
{
    if (len % 4 != 0)
        return false;
    buf_reserve(out, len / 4 * 3);
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)text[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = value_of(c)) < 0) {
                return false;
            }
        }
        uint32_t n = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out->data[out->len++] = (uint8_t)(n >> 16);
        if (pad < 2)
            out->data[out->len++] = (uint8_t)(n >> 8);
        if (pad < 1)
            out->data[out->len++] = (uint8_t)n;
    }
    return true;
}

void base64_encode(const void *data, size_t len, struct buf *out)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    buf_reserve(out, (len + 2) / 3 * 4);
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t n = (uint32_t)p[i] << 16 | (left > 1 ? (uint32_t)p[i + 1] << 8 : 0) |
                     (left > 2 ? (uint32_t)p[i + 2] : 0);
        uint8_t *o = out->data + out->len;
        o[0] = (uint8_t)digits[n >> 18];
        o[1] = (uint8_t)digits[(n >> 12) & 63];
        o[2] = left > 1 ? (uint8_t)digits[(n >> 6) & 63] : '=';
        o[3] = left > 2 ? (uint8_t)digits[n & 63] : '=';
        out->len += 4;
    }
}

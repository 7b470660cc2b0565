/* page_compress.c -- the page codecs: SNAPPY (raw block format), ZSTD (one
 * frame per page), GZIP (a gzip stream), or none. */
#include "parquet_internal.h"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

static bool gzip_compress(int level, const uint8_t *in, size_t n, struct buf *out,
                          const char **error)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16 asks zlib for a gzip header and trailer. */
    if (deflateInit2(&zs, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        *error = "gzip: cannot initialize the compressor";
        return false;
    }
    size_t bound = deflateBound(&zs, (uLong)n) + 32;
    buf_reserve(out, bound);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data;
    zs.avail_out = (uInt)out->cap;
    int rc = deflate(&zs, Z_FINISH);
    out->len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        *error = "gzip: compression failed";
        return false;
    }
    return true;
}

bool pq_compress(enum pq_codec codec, int level, const uint8_t *in, size_t n, struct buf *out,
                 const char **error)
{
    buf_reset(out);
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        buf_append(out, in, n);
        return true;
    case PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        buf_reserve(out, cap);
        size_t len = cap;
        if (snappy_compress((const char *)in, n, (char *)out->data, &len) != SNAPPY_OK) {
            *error = "snappy: compression failed";
            return false;
        }
        out->len = len;
        return true;
    }
    case PQ_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        buf_reserve(out, cap);
        size_t len = ZSTD_compress(out->data, cap, in, n, level ? level : 3);
        if (ZSTD_isError(len)) {
            *error = "zstd: compression failed";
            return false;
        }
        out->len = len;
        return true;
    }
    case PQ_CODEC_GZIP:
        return gzip_compress(level, in, n, out, error);
    }
    *error = "unknown codec";
    return false;
}

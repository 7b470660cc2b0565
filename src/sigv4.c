/* sigv4.c -- see sigv4.h. */
#include "sigv4.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "xalloc.h"

static const char hexdigits[] = "0123456789abcdef";

void sigv4_uri_encode(const char *s, size_t len, int keep_slash, struct buf *out)
{
    static const char upper[] = "0123456789ABCDEF";
    buf_reserve(out, len * 3 + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                          c == '-' || c == '_' || c == '.' || c == '~';
        if (unreserved || (c == '/' && keep_slash)) {
            out->data[out->len++] = c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = (uint8_t)upper[c >> 4];
            out->data[out->len++] = (uint8_t)upper[c & 15];
        }
    }
}

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[bytes[i] >> 4];
        out[2 * i + 1] = hexdigits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL);
    to_hex(digest, sizeof digest, out);
}

void sigv4_amz_date(long long unix_seconds, char out[17])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void hmac(const void *key, size_t keylen, const void *msg, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n);
}

struct encoded_param {
    struct buf name, value;
};

static int compare_params(const void *a, const void *b)
{
    const struct encoded_param *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int r = memcmp(x->name.data, y->name.data, n);
    if (r == 0)
        r = (x->name.len > y->name.len) - (x->name.len < y->name.len);
    if (r != 0)
        return r;
    n = x->value.len < y->value.len ? x->value.len : y->value.len;
    r = memcmp(x->value.data, y->value.data, n);
    if (r == 0)
        r = (x->value.len > y->value.len) - (x->value.len < y->value.len);
    return r;
}

struct canonical_header {
    char *name;
    struct buf value;
};

static int compare_headers(const void *a, const void *b)
{
    return strcmp(((const struct canonical_header *)a)->name,
                  ((const struct canonical_header *)b)->name);
}

/* Trims and folds runs of spaces, as AWS's canonical header values require. */
static void canonical_value(const char *v, struct buf *out)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '\t') {
            space = true;
            continue;
        }
        if (space)
            buf_push(out, ' ');
        space = false;
        buf_push(out, (uint8_t)v[i]);
    }
}

static void buf_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void sigv4_sign(const struct sigv4_request *req, struct sigv4_result *res)
{
    buf_reset(&res->canonical_request);
    buf_reset(&res->string_to_sign);
    buf_reset(&res->authorization);
    struct buf *cr = &res->canonical_request;

    buf_str(cr, req->method);
    buf_push(cr, '\n');
    sigv4_uri_encode(req->path, strlen(req->path), 1, cr);
    buf_push(cr, '\n');

    struct encoded_param *params = xcalloc(req->nparams ? req->nparams : 1, sizeof *params);
    for (size_t i = 0; i < req->nparams; i++) {
        sigv4_uri_encode(req->params[i].name, strlen(req->params[i].name), 0, &params[i].name);
        const char *v = req->params[i].value ? req->params[i].value : "";
        sigv4_uri_encode(v, strlen(v), 0, &params[i].value);
    }
    qsort(params, req->nparams, sizeof *params, compare_params);
    for (size_t i = 0; i < req->nparams; i++) {
        if (i > 0)
            buf_push(cr, '&');
        buf_append(cr, params[i].name.data, params[i].name.len);
        buf_push(cr, '=');
        buf_append(cr, params[i].value.data, params[i].value.len);
        buf_free(&params[i].name);
        buf_free(&params[i].value);
    }
    free(params);
    buf_push(cr, '\n');

    struct canonical_header *hs = xcalloc(req->nheaders ? req->nheaders : 1, sizeof *hs);
    for (size_t i = 0; i < req->nheaders; i++) {
        hs[i].name = xstrdup(req->headers[i].name);
        for (char *p = hs[i].name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        canonical_value(req->headers[i].value, &hs[i].value);
    }
    qsort(hs, req->nheaders, sizeof *hs, compare_headers);
    struct buf signed_headers = {0};
    for (size_t i = 0; i < req->nheaders; i++) {
        buf_str(cr, hs[i].name);
        buf_push(cr, ':');
        buf_append(cr, hs[i].value.data, hs[i].value.len);
        buf_push(cr, '\n');
        if (i > 0)
            buf_push(&signed_headers, ';');
        buf_str(&signed_headers, hs[i].name);
        free(hs[i].name);
        buf_free(&hs[i].value);
    }
    free(hs);
    buf_push(cr, '\n');
    buf_append(cr, signed_headers.data, signed_headers.len);
    buf_push(cr, '\n');
    buf_str(cr, req->payload_sha256);

    char date[9];
    memcpy(date, req->amz_date, 8);
    date[8] = '\0';
    char scope[256];
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, req->region, req->service);
    char cr_hash[65];
    sigv4_sha256_hex(cr->data, cr->len, cr_hash);

    struct buf *sts = &res->string_to_sign;
    buf_str(sts, "AWS4-HMAC-SHA256\n");
    buf_str(sts, req->amz_date);
    buf_push(sts, '\n');
    buf_str(sts, scope);
    buf_push(sts, '\n');
    buf_str(sts, cr_hash);

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    size_t sklen = strlen(req->secret_key);
    char *k0 = xmalloc(sklen + 5);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, req->secret_key, sklen + 1);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    hmac(k0, sklen + 4, date, 8, k1);
    secret_wipe(k0, sklen + 4); /* do not leave the secret behind in freed memory */
    free(k0);
    hmac(k1, 32, req->region, strlen(req->region), k2);
    hmac(k2, 32, req->service, strlen(req->service), k3);
    hmac(k3, 32, "aws4_request", 12, k4);
    hmac(k4, 32, sts->data, sts->len, sig);
    to_hex(sig, 32, res->signature);

    struct buf *auth = &res->authorization;
    buf_str(auth, "AWS4-HMAC-SHA256 Credential=");
    buf_str(auth, req->access_key);
    buf_push(auth, '/');
    buf_str(auth, scope);
    buf_str(auth, ", SignedHeaders=");
    buf_append(auth, signed_headers.data, signed_headers.len);
    buf_str(auth, ", Signature=");
    buf_str(auth, res->signature);
    buf_free(&signed_headers);

    buf_push(cr, '\0');
    cr->len--;
    buf_push(sts, '\0');
    sts->len--;
    buf_push(auth, '\0');
    auth->len--;
}

void sigv4_result_free(struct sigv4_result *r)
{
    buf_free(&r->canonical_request);
    buf_free(&r->string_to_sign);
    buf_free(&r->authorization);
}

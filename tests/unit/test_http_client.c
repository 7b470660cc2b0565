/* Unit tests of http_client.c: the retry classification, the backoff's
 * bounds, escaping and header look-up, and the retry loop against
 * requests that fail without a server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http_client.h"

static void transport_errors_are_retried_but_certificates_urls_and_protocols(void **state)
{
    (void)state;
    assert_true(http_retryable(CURLE_COULDNT_CONNECT, 0));
    assert_true(http_retryable(CURLE_OPERATION_TIMEDOUT, 0));
    assert_true(http_retryable(CURLE_COULDNT_RESOLVE_HOST, 0));
    assert_true(http_retryable(CURLE_RECV_ERROR, 0));
    assert_true(http_retryable(CURLE_SEND_ERROR, 0));
    assert_true(http_retryable(CURLE_GOT_NOTHING, 0));
    assert_false(http_retryable(CURLE_PEER_FAILED_VERIFICATION, 0));
    assert_false(http_retryable(CURLE_SSL_CACERT_BADFILE, 0));
    assert_false(http_retryable(CURLE_URL_MALFORMAT, 0));
    assert_false(http_retryable(CURLE_UNSUPPORTED_PROTOCOL, 0));
}

static void only_busy_and_broken_gateway_answers_are_retried(void **state)
{
    (void)state;
    const long again[] = {429, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof again / sizeof *again; i++)
        assert_true(http_retryable(CURLE_OK, again[i]));
    const long never[] = {200, 204, 301, 400, 401, 403, 404, 408, 409, 412, 501, 505};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        assert_false(http_retryable(CURLE_OK, never[i]));
}

static void the_backoff_doubles_from_the_base_and_stops_at_the_cap(void **state)
{
    (void)state;
    /* With the lowest draw the half, with the highest all of the capped delay. */
    const long base = 200, cap = 10000;
    const long expect[] = {200, 400, 800, 1600, 3200, 6400, 10000, 10000};
    for (int attempt = 1; attempt <= 8; attempt++) {
        long d = expect[attempt - 1];
        assert_int_equal(http_backoff_ms(attempt, base, cap, 0), d / 2);
        assert_int_equal(http_backoff_ms(attempt, base, cap, (uint64_t)(d - d / 2)), d);
    }
    /* Far past the cap nothing overflows. */
    assert_int_equal(http_backoff_ms(1000, base, cap, 0), cap / 2);
    assert_true(http_backoff_ms(1000, 1L << 40, 1L << 41, UINT64_MAX) <= 1L << 41);
    /* A base above the cap is the cap; no base, no sleep. */
    assert_int_equal(http_backoff_ms(1, 50000, cap, 0), cap / 2);
    assert_int_equal(http_backoff_ms(3, 0, cap, 12345), 0);
}

static void every_draw_lands_in_the_upper_half(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int attempt = 1 + (int)(x % 9);
        long d = 200L << (attempt - 1);
        if (d > 10000)
            d = 10000;
        long ms = http_backoff_ms(attempt, 200, 10000, x);
        assert_true(ms >= d / 2);
        assert_true(ms <= d);
    }
    /* An odd delay reaches its top too. */
    assert_int_equal(http_backoff_ms(1, 3, 100, 2), 3);
}

static void escaping_keeps_only_the_unreserved_bytes(void **state)
{
    (void)state;
    struct buf b = {0};
    http_escape("cdc-minio_to.duckdb~flow", &b);
    http_escape("/a b+é%", &b);
    buf_push(&b, '\0');
    assert_string_equal((const char *)b.data, "cdc-minio_to.duckdb~flow%2Fa%20b%2B%C3%A9%25");
    buf_free(&b);
}

static void response_headers_are_found_in_any_case(void **state)
{
    (void)state;
    struct http_response r = {0};
    const char *raw = "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nx-amz-meta-cdc-rows:  42\r\nContent-Length: 0\r\n\r\n";
    buf_append(&r.headers, raw, strlen(raw));
    char v[64];
    assert_true(http_response_header(&r, "etag", v, sizeof v));
    assert_string_equal(v, "\"abc\"");
    assert_true(http_response_header(&r, "X-Amz-Meta-Cdc-Rows", v, sizeof v));
    assert_string_equal(v, "42");
    assert_false(http_response_header(&r, "x-amz-meta-cdc", v, sizeof v)); /* a prefix is not a name */
    assert_false(http_response_header(&r, "OK", v, sizeof v));
    buf_free(&r.headers);
}

static void count_tries(void *ctx, int attempt)
{
    int *tries = ctx;
    assert_int_equal(attempt, *tries + 1);
    (*tries)++;
}

static struct http_client *client(int attempts)
{
    struct http_client_config cfg = {.timeout_s = 5, .connect_timeout_s = 5, .tls_verify = true,
                                     .max_attempts = attempts, .retry_base_ms = 1, .retry_cap_ms = 2};
    char err[128];
    struct http_client *c = http_client_new(&cfg, err, sizeof err);
    assert_non_null(c);
    return c;
}

static void a_refused_connection_is_tried_again_and_fails_on_one_line(void **state)
{
    (void)state;
    /* A port that is bound but not listening refuses every connection. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));

    struct http_client *c = client(3);
    int tries = 0;
    struct http_header h[] = {{"Accept", "application/json"}, {"Expect", ""}};
    struct http_request rq = {.method = "PUT", .url = url, .headers = h, .nheaders = 2, .body = "x",
                              .body_len = 1, .what = "PutObject x", .prepare = count_tries, .ctx = &tries};
    char err[256];
    assert_false(http_perform(c, &rq, err, sizeof err));
    assert_int_equal(tries, 3);
    assert_non_null(strstr(err, "PutObject x: "));
    assert_non_null(strstr(err, " (attempt 3 of 3)"));
    assert_null(strchr(err, '\n'));
    const struct http_stats *st = http_client_stats(c);
    assert_int_equal(st->requests, 3);
    assert_int_equal(st->retries, 2);
    assert_int_equal(st->failures, 1);
    assert_int_equal(st->bytes_sent, 0);
    assert_int_equal(http_client_response(c)->status, 0);
    http_client_free(c);
    close(fd);
}

static void an_unsupported_protocol_is_not_tried_again(void **state)
{
    (void)state;
    struct http_client *c = client(4);
    int tries = 0;
    struct http_request rq = {.method = "GET", .url = "nosuch://host/x", .what = "GET nosuch://host/x",
                              .prepare = count_tries, .ctx = &tries};
    char err[256];
    assert_false(http_perform(c, &rq, err, sizeof err));
    assert_int_equal(tries, 1);
    assert_non_null(strstr(err, "GET nosuch://host/x: "));
    assert_non_null(strstr(err, " (attempt 1 of 4)"));
    assert_int_equal(http_client_stats(c)->retries, 0);
    http_client_free(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transport_errors_are_retried_but_certificates_urls_and_protocols),
        cmocka_unit_test(only_busy_and_broken_gateway_answers_are_retried),
        cmocka_unit_test(the_backoff_doubles_from_the_base_and_stops_at_the_cap),
        cmocka_unit_test(every_draw_lands_in_the_upper_half),
        cmocka_unit_test(escaping_keeps_only_the_unreserved_bytes),
        cmocka_unit_test(response_headers_are_found_in_any_case),
        cmocka_unit_test(a_refused_connection_is_tried_again_and_fails_on_one_line),
        cmocka_unit_test(an_unsupported_protocol_is_not_tried_again),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

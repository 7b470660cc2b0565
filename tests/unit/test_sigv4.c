/* Unit tests of sigv4.c: AWS's Signature Version 4 test suite (the header
 * signing cases that apply to S3, which never normalizes paths), reproduced
 * as data, and the canonical forms the S3 client depends on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sigv4.h"

#define MAXP 4

struct vector {
    const char *name, *method, *path;
    struct sigv4_param params[MAXP];
    size_t nparams;
    struct http_header headers[MAXP];
    size_t nheaders;
    const char *body;
    const char *signed_headers, *signature;
};

#define HOST {"host", "example.amazonaws.com"}
#define DATE {"x-amz-date", "20150830T123600Z"}

static const struct vector vectors[] = {
    {"get-vanilla", "GET", "/", {{0}}, 0, {HOST, DATE}, 2, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key-case", "GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}, 2,
     {HOST, DATE}, 2, "", "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-empty-query-key", "GET", "/", {{"Param1", "value1"}}, 1, {HOST, DATE}, 2, "",
     "host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-vanilla-query-unreserved", "GET", "/",
     {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
     1, {HOST, DATE}, 2, "", "host;x-amz-date",
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-utf8-query", "GET", "/", {{"\xe1\x88\xb4", "bar"}}, 1, {HOST, DATE}, 2, "",
     "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{0}}, 0, {HOST, DATE}, 2, "", "host;x-amz-date",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8", "GET", "/\xe1\x88\xb4", {{0}}, 0, {HOST, DATE}, 2, "", "host;x-amz-date",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-header-key-duplicate", "GET", "/", {{0}}, 0,
     {HOST, {"my-header1", "value2,value2,value1"}, DATE}, 3, "", "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order", "GET", "/", {{0}}, 0,
     {HOST, {"my-header1", "value4,value1,value3,value2"}, DATE}, 3, "",
     "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-trim", "GET", "/", {{0}}, 0,
     {HOST, {"my-header1", " value1"}, {"My-Header2", "\"a   b   c\""}, DATE}, 4, "",
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-vanilla", "POST", "/", {{0}}, 0, {HOST, DATE}, 2, "", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-header-key-case", "POST", "/", {{0}}, 0, {{"Host", "example.amazonaws.com"},
     {"X-Amz-Date", "20150830T123600Z"}}, 2, "", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-header-key-sort", "POST", "/", {{0}}, 0, {HOST, {"my-header1", "value1"}, DATE}, 3, "",
     "host;my-header1;x-amz-date", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"post-header-value-case", "POST", "/", {{0}}, 0, {HOST, {"my-header1", "VALUE1"}, DATE}, 3, "",
     "host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-vanilla-query", "POST", "/", {{"Param1", "value1"}}, 1, {HOST, DATE}, 2, "",
     "host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-vanilla-query-nonunreserved", "POST", "/",
     {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}}, 2, {HOST, DATE}, 2, "", "host;x-amz-date",
     "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"},
    {"post-vanilla-query-space", "POST", "/", {{"p", ""}}, 1, {HOST, DATE}, 2, "",
     "host;x-amz-date", "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b"},
    {"post-x-www-form-urlencoded", "POST", "/", {{0}}, 0,
     {{"content-type", "application/x-www-form-urlencoded"}, HOST, DATE}, 3, "Param1=value1",
     "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-x-www-form-urlencoded-parameters", "POST", "/", {{0}}, 0,
     {{"content-type", "application/x-www-form-urlencoded; charset=utf8"}, HOST, DATE}, 3,
     "Param1=value1", "content-type;host;x-amz-date",
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
};

static void test_aws_test_suite(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        char hash[65];
        sigv4_sha256_hex(v->body, strlen(v->body), hash);
        struct sigv4_request rq = {
            .method = v->method, .path = v->path, .params = v->params, .nparams = v->nparams,
            .headers = v->headers, .nheaders = v->nheaders, .payload_sha256 = hash,
            .amz_date = "20150830T123600Z", .region = "us-east-1", .service = "service",
            .access_key = "AKIDEXAMPLE", .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        };
        struct sigv4_result r = {0};
        sigv4_sign(&rq, &r);
        char expected[512];
        snprintf(expected, sizeof expected,
                 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                 "SignedHeaders=%s, Signature=%s",
                 v->signed_headers, v->signature);
        if (strcmp((const char *)r.authorization.data, expected) != 0)
            fail_msg("%s:\n got      %s\n expected %s\n canonical request:\n%s", v->name,
                     (const char *)r.authorization.data, expected,
                     (const char *)r.canonical_request.data);
        sigv4_result_free(&r);
    }
}

/* AWS's S3 documentation example: GET /test.txt with a Range header. */
static void test_s3_documentation_example(void **state)
{
    (void)state;
    const struct http_header h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"x-amz-date", "20130524T000000Z"},
    };
    struct sigv4_request rq = {
        .method = "GET", .path = "/test.txt", .headers = h, .nheaders = 4,
        .payload_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        .amz_date = "20130524T000000Z", .region = "us-east-1", .service = "s3",
        .access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    struct sigv4_result r = {0};
    sigv4_sign(&rq, &r);
    assert_string_equal(r.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    sigv4_result_free(&r);
}

static void test_canonical_path_and_query(void **state)
{
    (void)state;
    const struct sigv4_param p[] = {{"prefix", "cdc_events/a b/"}, {"list-type", "2"},
                                    {"continuation-token", "x+y/z="}, {"uploads", ""}};
    const struct http_header h[] = {{"host", "minio:9000"}};
    struct sigv4_request rq = {
        .method = "GET", .path = "/datalake/cdc_events/t/year=2026/m\xc3\xbc ~+%.parquet",
        .params = p, .nparams = 4, .headers = h, .nheaders = 1, .payload_sha256 = "UNSIGNED-PAYLOAD",
        .amz_date = "20261124T000000Z", .region = "us-east-1", .service = "s3",
        .access_key = "a", .secret_key = "b",
    };
    struct sigv4_result r = {0};
    sigv4_sign(&rq, &r);
    assert_string_equal((const char *)r.canonical_request.data,
                        "GET\n"
                        "/datalake/cdc_events/t/year%3D2026/m%C3%BC%20~%2B%25.parquet\n"
                        "continuation-token=x%2By%2Fz%3D&list-type=2&prefix=cdc_events%2Fa%20b%2F&uploads=\n"
                        "host:minio:9000\n"
                        "\n"
                        "host\n"
                        "UNSIGNED-PAYLOAD");
    sigv4_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_test_suite),
        cmocka_unit_test(test_s3_documentation_example),
        cmocka_unit_test(test_canonical_path_and_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* version.c -- see version.h. */
#include "version.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <zlib.h>
#include <zstd.h>

#ifndef CDCW_VERSION
#define CDCW_VERSION "0.0.0"
#endif
#ifndef CDCW_BUILD_ID
#define CDCW_BUILD_ID "local"
#endif
#ifndef CDCW_SNAPPY_VERSION
#define CDCW_SNAPPY_VERSION "unknown"
#endif

const char *version_string(void)
{
    return CDCW_VERSION;
}

const char *version_created_by(void)
{
    return "cdc-writer version " CDCW_VERSION " (build " CDCW_BUILD_ID ")";
}

void version_print(FILE *out)
{
    fprintf(out, "cdc-writer %s\n", CDCW_VERSION);
    fprintf(out, "  librdkafka    %s\n", rd_kafka_version_str());
    fprintf(out, "  libcurl       %s\n", curl_version_info(CURLVERSION_NOW)->version);
    fprintf(out, "  OpenSSL       %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
    fprintf(out, "  snappy        %s (build time)\n", CDCW_SNAPPY_VERSION);
    fprintf(out, "  zstd          %s\n", ZSTD_versionString());
    fprintf(out, "  zlib          %s\n", zlibVersion());
    fprintf(out, "  cJSON         %s\n", cJSON_Version());
    fprintf(out, "  libmicrohttpd %s\n", MHD_get_version());
}

/* store_config.c -- see store_config.h. */
#include "store_config.h"

static enum object_payload_signing payload_signing(enum payload_signing s)
{
    switch (s) {
    case PAYLOAD_SIGNING_SIGNED:
        return OBJECT_PAYLOAD_SIGNED;
    case PAYLOAD_SIGNING_UNSIGNED:
        return OBJECT_PAYLOAD_UNSIGNED;
    case PAYLOAD_SIGNING_AUTO:
        break;
    }
    return OBJECT_PAYLOAD_AUTO;
}

void object_store_config_from(struct object_store_config *out, const struct config *cfg,
                              const struct log *lg)
{
    object_store_config_default(out);
    out->endpoint = cfg->minio_endpoint;
    out->use_ssl = cfg->minio_use_ssl;
    out->conditional_writes = cfg->minio_conditional_writes;
    out->ca_bundle = cfg->minio_ca_bundle;
    out->tls_verify = cfg->minio_tls_verify;
    out->payload_signing = payload_signing(cfg->minio_payload_signing);
    out->bucket = cfg->minio_bucket;
    out->region = cfg->minio_region;
    out->access_key = cfg->minio_access_key;
    out->secret_key = cfg->minio_secret_key;
    out->session_token = cfg->minio_session_token;
    out->timeout_s = cfg->minio_timeout_s;
    out->max_attempts = cfg->minio_max_attempts;
    out->retry_base_ms = cfg->minio_retry_base_ms;
    out->multipart_threshold = (size_t)cfg->minio_multipart_threshold;
    out->part_size = (size_t)cfg->minio_part_size;
    out->log = lg;
}

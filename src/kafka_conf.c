/* kafka_conf.c -- see kafka_conf.h for the contract. */
#include "kafka_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Properties cdc-writer sets itself; the pass-through may not touch them. */
static const struct {
    const char *name;
    const char *why;
} reserved[] = {
    {"group.id", "set CONSUMER_GROUP_ID instead"},
    {"enable.auto.commit", "cdc-writer commits offsets itself, after the data is stored"},
    {"enable.auto.offset.store", "cdc-writer stores offsets itself, after the data is stored"},
    {"bootstrap.servers", "set KAFKA_BOOTSTRAP_SERVERS instead"},
    {"metadata.broker.list", "set KAFKA_BOOTSTRAP_SERVERS instead"},
};

static bool set(rd_kafka_conf_t *conf, const char *env_name, const char *name, const char *value,
                bool secret, struct config_errors *errs)
{
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return true;
    if (secret)
        config_errors_add(errs, "%s: librdkafka rejects the value of property %s (value hidden)",
                          env_name, name);
    else
        config_errors_add(errs, "%s='%s': librdkafka rejects property %s: %s", env_name, value,
                          name, why);
    return false;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The value a KAFKA_* variable gives property name, or NULL. */
static const char *passed(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->kafka_prop_count; i++)
        if (strcmp(cfg->kafka_props[i].name, name) == 0)
            return cfg->kafka_props[i].value;
    return NULL;
}

static int64_t queue_bytes(const struct config *cfg)
{
    const char *v = passed(cfg, "queued.max.messages.kbytes");
    return v ? strtoll(v, NULL, 10) * 1024 : clamp64(cfg->max_buffer_bytes / 8, 1 << 20, 64 << 20);
}

static int64_t fetch_bytes(const struct config *cfg)
{
    const char *v = passed(cfg, "fetch.max.bytes");
    return v ? strtoll(v, NULL, 10) : clamp64(cfg->max_buffer_bytes / 8, 1 << 20, 50 << 20);
}

int64_t kafka_prefetch_bytes(const struct config *cfg)
{
    return queue_bytes(cfg) + fetch_bytes(cfg);
}

rd_kafka_conf_t *kafka_conf_build(const struct config *cfg, struct config_errors *errs)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    size_t before = errs->count;
    set(conf, "KAFKA_BOOTSTRAP_SERVERS", "bootstrap.servers", cfg->kafka_bootstrap_servers, false,
        errs);
    set(conf, "CONSUMER_GROUP_ID", "group.id", cfg->consumer_group_id, false, errs);
    set(conf, "(built-in)", "enable.auto.commit", "false", false, errs);
    set(conf, "(built-in)", "enable.auto.offset.store", "false", false, errs);
    set(conf, "(built-in)", "auto.offset.reset", "earliest", false, errs);
    set(conf, "(built-in)", "partition.assignment.strategy", "cooperative-sticky", false, errs);
    set(conf, "(built-in)", "client.id", "cdc-writer", false, errs);
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)(queue_bytes(cfg) / 1024));
    set(conf, "(built-in)", "queued.max.messages.kbytes", num, false, errs);
    snprintf(num, sizeof num, "%lld", (long long)fetch_bytes(cfg));
    set(conf, "(built-in)", "fetch.max.bytes", num, false, errs);
    /* librdkafka stops fetching a partition whose queue reached those limits
     * and looks again after fetch.queue.backoff.ms, 1 s unless set (2.2.0's
     * CHANGELOG). The decode lanes drain the queue in a fraction of that, and
     * the fetcher then sat idle: Apache Kafka, 600,000 ~1 KB envelopes, two
     * lanes, 51,797 msg/s at 1 s and 120,936 at 20 ms. Before 2.2 there is no
     * such property, and fetch_nudge.c wakes the fetcher instead. */
    if (rd_kafka_version() >= FETCH_QUEUE_BACKOFF_VERSION)
        set(conf, "(built-in)", "fetch.queue.backoff.ms", "20", false, errs);

    for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
        const struct kafka_property *p = &cfg->kafka_props[i];
        bool refused = false;
        for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++) {
            if (strcmp(p->name, reserved[r].name) == 0) {
                config_errors_add(errs, "%s: property %s cannot be overridden: %s", p->env_name,
                                  p->name, reserved[r].why);
                refused = true;
            }
        }
        if (!refused)
            set(conf, p->env_name, p->name, p->value, p->secret, errs);
    }
    if (errs->count != before) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

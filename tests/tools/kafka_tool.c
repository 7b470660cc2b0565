/* kafka_tool -- produce and consume for tests, JSON lines in and out.
 *
 *   kafka_tool produce BOOTSTRAP [--batch-messages N]
 *       reads JSON lines from stdin:
 *         {"topic":"t","partition":0,"key":"k","value":"v","timestamp":1700000000000}
 *       "value": null produces a tombstone; "value_hex" gives raw bytes;
 *       "partition", "timestamp" and "headers" are optional; headers are
 *       [name, value] pairs in order, a value a string, null, or {"hex": "..."}
 *       for raw bytes: "headers":[["trace","t1"],["bin",{"hex":"ff00"}]].
 *       Prints one line per message:
 *         {"topic":"t","partition":0,"offset":5}
 *       and exits non-zero if any delivery failed. --batch-messages N puts at
 *       most N messages in a record batch (batch.num.messages, linger.ms=0):
 *       1 is a producer under light load that sends each message at once.
 *
 *   kafka_tool consume BOOTSTRAP GROUP PATTERN COUNT TIMEOUT_MS [--commit] [--quiet]
 *                      [--commit-every MS] [--conf NAME=VALUE]...
 *       joins GROUP subscribed to PATTERN (a regex when it starts with ^),
 *       prints each message as a JSON line (topic, partition, offset, key,
 *       value or null, timestamp) until COUNT messages or TIMEOUT_MS pass;
 *       exit 0 when COUNT were read, 3 on time-out. --quiet prints only
 *       {"count":N,"first_message_ms":M,"cpu_s":C,"poll_cpu_s":P,"max_rss_kib":R},
 *       M counted from the subscription, C and R the process's CPU seconds
 *       (user and system) and peak resident memory once it has left the
 *       group, P the polling (main) thread's CPU seconds before it leaves.
 *       --commit-every MS commits the positions synchronously every MS ms
 *       while consuming; --conf sets a librdkafka property of the consumer.
 *
 *   kafka_tool committed BOOTSTRAP GROUP TOPIC PARTITIONS
 *       prints {"partition":N,"offset":O} per partition (-1001: none).
 *
 *   kafka_tool create BOOTSTRAP NAME:PARTITIONS...
 *       creates the topics (replication factor 1) with the admin API and
 *       waits until every partition has a leader; a topic that exists already
 *       is not an error. For real brokers: the mock cluster creates its own.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cJSON.h>
#include <librdkafka/rdkafka.h>

static int failures;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "topic", rd_kafka_topic_name(m->rkt));
    cJSON_AddNumberToObject(o, "partition", m->partition);
    cJSON_AddNumberToObject(o, "offset", (double)m->offset);
    if (m->err) {
        cJSON_AddStringToObject(o, "error", rd_kafka_err2str(m->err));
        failures++;
    }
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static int hex_decode(const char *hex, unsigned char **out, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(*out);
            return -1;
        }
        (*out)[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        exit(2);
    }
    return rk;
}

/* The "headers" of a line (NULL when it has none); false when malformed. */
static bool make_headers(const cJSON *list, rd_kafka_headers_t **out)
{
    *out = NULL;
    if (list == NULL)
        return true;
    if (!cJSON_IsArray(list))
        return false;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new((size_t)cJSON_GetArraySize(list));
    const cJSON *pair;
    cJSON_ArrayForEach(pair, list)
    {
        const cJSON *name = cJSON_GetArrayItem(pair, 0), *value = cJSON_GetArrayItem(pair, 1);
        const cJSON *hex = cJSON_GetObjectItem(value, "hex");
        unsigned char *bytes = NULL;
        size_t len = 0;
        if (!cJSON_IsString(name) || cJSON_GetArraySize(pair) != 2 ||
            (cJSON_IsObject(value) && (!cJSON_IsString(hex) || hex_decode(hex->valuestring, &bytes, &len) != 0)) ||
            (!cJSON_IsString(value) && !cJSON_IsNull(value) && !cJSON_IsObject(value))) {
            rd_kafka_headers_destroy(hdrs);
            return false;
        }
        if (cJSON_IsString(value))
            rd_kafka_header_add(hdrs, name->valuestring, -1, value->valuestring, -1);
        else
            rd_kafka_header_add(hdrs, name->valuestring, -1, bytes, (ssize_t)len); /* NULL: a null value */
        free(bytes);
    }
    *out = hdrs;
    return true;
}

static int produce(const char *bootstrap, const char *batch_messages)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "linger.ms", batch_messages ? "0" : "5", err, sizeof err);
    if (batch_messages && rd_kafka_conf_set(conf, "batch.num.messages", batch_messages, err, sizeof err)) {
        fprintf(stderr, "kafka_tool: --batch-messages %s: %s\n", batch_messages, err);
        return 2;
    }
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf, bootstrap);

    size_t cap = 1 << 16;
    char *line = malloc(cap);
    size_t len = 0;
    int c;
    int lineno = 0;
    for (;;) {
        c = getchar();
        if (c != '\n' && c != EOF) {
            if (len + 1 >= cap)
                line = realloc(line, cap *= 2);
            line[len++] = (char)c;
            continue;
        }
        line[len] = '\0';
        if (len > 0) {
            lineno++;
            cJSON *o = cJSON_Parse(line);
            if (o == NULL) {
                fprintf(stderr, "kafka_tool: line %d is not JSON\n", lineno);
                return 2;
            }
            const cJSON *topic = cJSON_GetObjectItem(o, "topic");
            const cJSON *part = cJSON_GetObjectItem(o, "partition");
            const cJSON *key = cJSON_GetObjectItem(o, "key");
            const cJSON *value = cJSON_GetObjectItem(o, "value");
            const cJSON *value_hex = cJSON_GetObjectItem(o, "value_hex");
            const cJSON *ts = cJSON_GetObjectItem(o, "timestamp");
            rd_kafka_headers_t *hdrs;
            if (!make_headers(cJSON_GetObjectItem(o, "headers"), &hdrs)) {
                fprintf(stderr, "kafka_tool: line %d: bad headers\n", lineno);
                return 2;
            }
            unsigned char *vbuf = NULL;
            size_t vlen = 0;
            if (cJSON_IsString(value_hex)) {
                if (hex_decode(value_hex->valuestring, &vbuf, &vlen) != 0) {
                    fprintf(stderr, "kafka_tool: line %d: bad value_hex\n", lineno);
                    return 2;
                }
            } else if (cJSON_IsString(value)) {
                vbuf = (unsigned char *)strdup(value->valuestring);
                vlen = strlen(value->valuestring);
            }
            rd_kafka_resp_err_t e;
            do {
                e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(cJSON_GetStringValue(topic)),
                    RD_KAFKA_V_PARTITION(cJSON_IsNumber(part) ? part->valueint : RD_KAFKA_PARTITION_UA),
                    RD_KAFKA_V_KEY((cJSON_IsString(key) ? key->valuestring : NULL),
                                   (cJSON_IsString(key) ? strlen(key->valuestring) : 0)),
                    RD_KAFKA_V_VALUE(vbuf, vlen),
                    RD_KAFKA_V_TIMESTAMP(cJSON_IsNumber(ts) ? (int64_t)ts->valuedouble : 0),
                    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    rd_kafka_poll(rk, 100);
            } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
            if (e && hdrs != NULL)
                rd_kafka_headers_destroy(hdrs); /* librdkafka owns them only once produced */
            if (e) {
                fprintf(stderr, "kafka_tool: line %d: %s\n", lineno, rd_kafka_err2str(e));
                failures++;
            }
            free(vbuf);
            cJSON_Delete(o);
            rd_kafka_poll(rk, 0);
        }
        len = 0;
        if (c == EOF)
            break;
    }
    free(line);
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka_tool: flush timed out\n");
        failures++;
    }
    rd_kafka_destroy(rk);
    return failures ? 1 : 0;
}

static void print_message(const rd_kafka_message_t *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "topic", rd_kafka_topic_name(m->rkt));
    cJSON_AddNumberToObject(o, "partition", m->partition);
    cJSON_AddNumberToObject(o, "offset", (double)m->offset);
    if (m->key) {
        char *k = strndup(m->key, m->key_len);
        cJSON_AddStringToObject(o, "key", k);
        free(k);
    } else {
        cJSON_AddNullToObject(o, "key");
    }
    if (m->payload) {
        char *v = strndup(m->payload, m->len);
        cJSON_AddStringToObject(o, "value", v);
        free(v);
    } else {
        cJSON_AddNullToObject(o, "value");
    }
    cJSON_AddNumberToObject(o, "timestamp", (double)rd_kafka_message_timestamp(m, NULL));
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    cJSON_Delete(o);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The consumer of group; props (NAME=VALUE, n of them) set more properties. */
static rd_kafka_t *new_consumer(const char *bootstrap, const char *group, char **props, int n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "session.timeout.ms", "6000", err, sizeof err);
    rd_kafka_conf_set(conf, "heartbeat.interval.ms", "500", err, sizeof err);
    rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "1000", err, sizeof err);
    for (int i = 0; i < n; i++) {
        char name[256];
        const char *eq = strchr(props[i], '=');
        if (eq == NULL || (size_t)(eq - props[i]) >= sizeof name) {
            fprintf(stderr, "kafka_tool: --conf %s: expected NAME=VALUE\n", props[i]);
            exit(2);
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - props[i]), props[i]);
        if (rd_kafka_conf_set(conf, name, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "kafka_tool: --conf %s: %s\n", props[i], err);
            exit(2);
        }
    }
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf, bootstrap);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Commits the assigned partitions' positions, waiting for the answer. */
static void commit_positions(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR && list->cnt > 0 &&
        rd_kafka_position(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_commit(rk, list, 0); /* a partition without a position is left out */
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
}

static int consume(const char *bootstrap, const char *group, const char *pattern, long count,
                   long timeout_ms, int commit, int quiet, long commit_every_ms, char **props, int nprops)
{
    rd_kafka_t *rk = new_consumer(bootstrap, group, props, nprops);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, pattern, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        fprintf(stderr, "kafka_tool: subscribe: %s\n", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return 2;
    }
    long got = 0;
    long long start = now_ms(), first = -1;
    long long deadline = start + timeout_ms;
    long long next_commit = commit_every_ms > 0 ? start + commit_every_ms : -1;
    while (got < count && now_ms() < deadline) {
        if (next_commit >= 0 && now_ms() >= next_commit) {
            commit_positions(rk);
            next_commit = now_ms() + commit_every_ms;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, commit_every_ms > 0 && commit_every_ms < 200 ? (int)commit_every_ms : 200);
        if (m == NULL)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "kafka_tool: %s\n", rd_kafka_message_errstr(m));
        } else {
            if (!quiet)
                print_message(m);
            if (got++ == 0)
                first = now_ms() - start;
        }
        rd_kafka_message_destroy(m);
    }
    if (commit && got > 0)
        rd_kafka_commit(rk, NULL, 0);
    struct timespec poll_cpu; /* this, the polling thread's own, before it leaves */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &poll_cpu);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (quiet) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        printf("{\"count\":%ld,\"first_message_ms\":%lld,\"cpu_s\":%.3f,\"poll_cpu_s\":%.3f,"
               "\"max_rss_kib\":%ld}\n",
               got, first, cpu, (double)poll_cpu.tv_sec + (double)poll_cpu.tv_nsec / 1e9, ru.ru_maxrss);
    }
    return got >= count ? 0 : 3;
}

static int committed(const char *bootstrap, const char *group, const char *topic, int partitions)
{
    rd_kafka_t *rk = new_consumer(bootstrap, group, NULL, 0);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p);
    /* While the group coordinator moves or loads (a broker just started, a
     * group just created), the answer is a retriable error: ask again. */
    rd_kafka_resp_err_t e;
    for (int attempt = 0;; attempt++) {
        e = rd_kafka_committed(rk, list, 10000);
        bool retriable = e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                         e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                         e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
        if (!retriable || attempt == 50)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    }
    int status = 0;
    if (e) {
        fprintf(stderr, "kafka_tool: committed: %s\n", rd_kafka_err2str(e));
        status = 1;
    } else {
        for (int i = 0; i < list->cnt; i++)
            printf("{\"partition\":%d,\"offset\":%lld}\n", list->elems[i].partition,
                   (long long)list->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return status;
}

static int create_topics(const char *bootstrap, int n, char **specs)
{
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), bootstrap);
    rd_kafka_NewTopic_t **topics = calloc((size_t)n, sizeof *topics);
    char (*names)[512] = calloc((size_t)n, sizeof *names);
    char err[512];
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s", specs[i]);
        char *colon = strrchr(names[i], ':');
        int parts = colon ? atoi(colon + 1) : 1;
        if (colon)
            *colon = '\0';
        topics[i] = rd_kafka_NewTopic_new(names[i], parts, 1, err, sizeof err);
        if (topics[i] == NULL) {
            fprintf(stderr, "kafka_tool: topic %s: %s\n", specs[i], err);
            return 2;
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, (size_t)n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    int status = 0;
    if (ev == NULL) {
        fprintf(stderr, "kafka_tool: CreateTopics: no answer within 60 s\n");
        status = 1;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "kafka_tool: create %s: %s\n", rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
                status = 1;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    /* Created is not yet usable: wait until the metadata shows a leader for each partition. */
    for (long long deadline = now_ms() + 60000; status == 0;) {
        const struct rd_kafka_metadata *md = NULL;
        int ready = 0;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < n; i++) {
                for (int t = 0; t < md->topic_cnt; t++) {
                    const rd_kafka_metadata_topic_t *mt = &md->topics[t];
                    if (strcmp(mt->topic, names[i]) != 0)
                        continue;
                    int led = mt->err == RD_KAFKA_RESP_ERR_NO_ERROR && mt->partition_cnt > 0;
                    for (int k = 0; k < mt->partition_cnt; k++)
                        led = led && mt->partitions[k].leader >= 0;
                    ready += led;
                }
            }
            rd_kafka_metadata_destroy(md);
        }
        if (ready == n)
            break;
        if (now_ms() > deadline) {
            fprintf(stderr, "kafka_tool: the topics have no leader after 60 s\n");
            status = 1;
        }
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    for (int i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(topics[i]);
    free(topics);
    free(names);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return status;
}

/* The options from argv[from] on, in any order. */
static int has_flag(int argc, char **argv, int from, const char *flag)
{
    for (int i = from; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

/* The value after the first option flag from argv[from] on, or NULL. */
static const char *option(int argc, char **argv, int from, const char *flag)
{
    for (int i = from; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return argv[i + 1];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], option(argc, argv, 3, "--batch-messages"));
    if (argc >= 7 && strcmp(argv[1], "consume") == 0) {
        /* Each --conf's value, in order. */
        char **props = calloc((size_t)argc, sizeof *props);
        int nprops = 0;
        for (int i = 7; i + 1 < argc; i++)
            if (strcmp(argv[i], "--conf") == 0)
                props[nprops++] = argv[++i];
        const char *every = option(argc, argv, 7, "--commit-every");
        int status = consume(argv[2], argv[3], argv[4], atol(argv[5]), atol(argv[6]),
                             has_flag(argc, argv, 7, "--commit"), has_flag(argc, argv, 7, "--quiet"),
                             every ? atol(every) : 0, props, nprops);
        free(props);
        return status;
    }
    if (argc >= 6 && strcmp(argv[1], "committed") == 0)
        return committed(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (argc >= 4 && strcmp(argv[1], "create") == 0)
        return create_topics(argv[2], argc - 3, argv + 3);
    fprintf(stderr, "usage: kafka_tool produce|consume|committed|create ... (see the source header)\n");
    return 2;
}

/* mock_kafka -- a Kafka-protocol cluster (librdkafka's mock cluster) in its
 * own process, so that producers, the daemon and checkers share it.
 *
 *   mock_kafka [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints the bootstrap servers on the first line of stdout, then reads
 * commands on stdin, one per line, answering "ok" or "error: <why>":
 *   topic NAME PARTITIONS          create a topic
 *   broker_down ID | broker_up ID  take a broker down or bring it back
 *   rtt ID MS                      add round-trip latency to a broker
 *   push_errors APIKEY ERR...      the next requests of APIKEY fail with ERR
 *                                  (numeric Kafka error codes), in order
 *   clear_errors APIKEY
 *   quit
 * Exits on "quit", end of stdin (its parent went away), SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, int partitions)
{
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, 1);
    if (err) {
        printf("error: topic %s: %s\n", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static void run_command(rd_kafka_mock_cluster_t *mc, char *line)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r\n", &save);
    if (cmd == NULL)
        return;
    char *a1 = strtok_r(NULL, " \t\r\n", &save);
    char *a2 = strtok_r(NULL, " \t\r\n", &save);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (strcmp(cmd, "topic") == 0 && a1 && a2) {
        if (create_topic(mc, a1, atoi(a2)) != 0)
            goto flush;
    } else if (strcmp(cmd, "broker_down") == 0 && a1) {
        err = rd_kafka_mock_broker_set_down(mc, atoi(a1));
    } else if (strcmp(cmd, "broker_up") == 0 && a1) {
        err = rd_kafka_mock_broker_set_up(mc, atoi(a1));
    } else if (strcmp(cmd, "rtt") == 0 && a1 && a2) {
        err = rd_kafka_mock_broker_set_rtt(mc, atoi(a1), atoi(a2));
    } else if (strcmp(cmd, "push_errors") == 0 && a1 && a2) {
        rd_kafka_resp_err_t errs[64];
        size_t n = 0;
        for (char *e = a2; e != NULL && n < 64; e = strtok_r(NULL, " \t\r\n", &save))
            errs[n++] = (rd_kafka_resp_err_t)atoi(e);
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)atoi(a1), n, errs);
    } else if (strcmp(cmd, "clear_errors") == 0 && a1) {
        rd_kafka_mock_clear_request_errors(mc, (int16_t)atoi(a1));
    } else if (strcmp(cmd, "quit") == 0) {
        stop_requested = 1;
    } else {
        printf("error: unknown or incomplete command '%s'\n", cmd);
        goto flush;
    }
    if (err)
        printf("error: %s\n", rd_kafka_err2str(err));
    else
        printf("ok\n");
flush:
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int brokers = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal interrupts fgets */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        fprintf(stderr, "mock_kafka: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "mock_kafka: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            char *spec = argv[++i];
            char *colon = strrchr(spec, ':');
            int partitions = colon ? atoi(colon + 1) : 1;
            if (colon)
                *colon = '\0';
            if (create_topic(mc, spec, partitions) != 0)
                status = 1;
        }
    }
    if (status == 0) {
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);
        char line[4096];
        while (!stop_requested) {
            if (fgets(line, sizeof line, stdin) == NULL) {
                if (errno == EINTR && !feof(stdin)) {
                    clearerr(stdin);
                    continue;
                }
                break;
            }
            run_command(mc, line);
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return status;
}

/* http_server.c -- see http_server.h. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "thread_name.h"
#include "xalloc.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct metrics *metrics;
    struct health *health;
    struct metric *rss;
};

static double resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    return n == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) : 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer_line(struct MHD_Connection *c, unsigned status, const char *line)
{
    char text[1100];
    int n = snprintf(text, sizeof text, "%s\n", line);
    return answer(c, status, "text/plain; charset=utf-8", text,
                  n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)state;
    struct http_server *s = cls;
    thread_name_set("cdcw-http"); /* MHD's thread has its creator's name until here */
    if (*upload_size != 0) {
        *upload_size = 0; /* no endpoint takes a body */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer_line(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served");
    char why[1024];
    if (strcmp(url, "/metrics") == 0) {
        metric_set(s->rss, resident_bytes());
        struct buf out = {0};
        metrics_render(s->metrics, &out);
        enum MHD_Result r =
            answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
        buf_free(&out);
        return r;
    }
    if (strcmp(url, "/healthz") == 0) {
        bool live = health_live(s->health, why, sizeof why);
        return answer_line(c, live ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    if (strcmp(url, "/readyz") == 0) {
        bool ready = health_ready(s->health, why, sizeof why);
        return answer_line(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    return answer_line(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz");
}

struct http_server *http_server_start(const char *bind_address, int port, struct metrics *m,
                                      struct health *h, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, bind_address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, bind_address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "HTTP_BIND_ADDRESS='%s' is not an IPv4 or IPv6 address", bind_address);
        return NULL;
    }
    struct http_server *s = xcalloc(1, sizeof *s);
    s->metrics = m;
    s->health = h;
    s->rss = metric_series(metrics_family(m, "process_resident_memory_bytes",
                                          "Resident memory size in bytes.", METRIC_GAUGE, "", NULL, 0),
                           NULL);
    s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                 MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s port %d (HTTP_PORT): %s", bind_address, port,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        free(s);
        return NULL;
    }
    return s;
}

void http_server_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}

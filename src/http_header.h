/* http_header.h -- one HTTP request header: a name and a value.
 *
 * Contract: the type of a request's one header list, which the S3 client
 * gives both to its signer (sigv4.h signs a prefix of it) and to its sender
 * (http_client.h sends all of it), so the two never disagree. Both strings
 * are borrowed: the list's owner keeps them valid while the list is used.
 */
#ifndef CDCW_HTTP_HEADER_H
#define CDCW_HTTP_HEADER_H

struct http_header {
    const char *name, *value;
};

#endif

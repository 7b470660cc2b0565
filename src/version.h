/* version.h -- cdc-writer's version and the versions of what it links. */
#ifndef CDCW_VERSION_H
#define CDCW_VERSION_H

#include <stdio.h>

/* "0.1.0" */
const char *version_string(void);

/* The `created_by` text of written files: "cdc-writer version 0.1.0 (build <id>)". */
const char *version_created_by(void);

/* Writes cdc-writer's version, then one line per linked library. */
void version_print(FILE *out);

#endif

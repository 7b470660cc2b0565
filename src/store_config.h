/* store_config.h -- the object store settings of cdc-writer's configuration.
 *
 * Contract: object_store_config_from() fills an object_store_config from the
 * MINIO_* variables of a loaded config (config.h), on top of
 * object_store_config_default(). The strings point into cfg, so cfg must
 * outlive the result; lg is borrowed the same way (NULL: the store logs
 * nothing). It keeps object_store.h free of config.h: the store takes its
 * settings from whoever calls it (the daemon, --check, the test tools).
 */
#ifndef CDCW_STORE_CONFIG_H
#define CDCW_STORE_CONFIG_H

#include "config.h"
#include "log.h"
#include "object_store.h"

void object_store_config_from(struct object_store_config *out, const struct config *cfg,
                              const struct log *lg);

#endif

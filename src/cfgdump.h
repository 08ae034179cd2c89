/*
 * cfgdump.h - a loaded configuration back to YAML (magpie -T): every key
 * with its effective value, defaults filled in, in etc/magpie.yaml's order,
 * written so that config_load() accepts the text and builds the same
 * configuration from it. Keys that have no value to write (a rule's
 * default_ttl of none, an unset acl.allow_destinations) appear as comments.
 */
#ifndef MAGPIE_CFGDUMP_H
#define MAGPIE_CFGDUMP_H

#include <stdio.h>

#include "config.h"

/* 0, or -1 when out could not be written. */
int cfgdump_write(const struct config *cfg, FILE *out);

/* s as a YAML double-quoted scalar into out: backslash, quote, every
   control character (C1 included) and what YAML reads as a line break or
   refuses (LS, PS, BOM, U+FFFE, U+FFFF) escaped, other bytes as they are. */
void cfgdump_quote(const char *s, FILE *out);

/* v seconds as a duration config_parse_duration() reads back to exactly v:
   "10s", "5m" where that is exact, else decimals. */
const char *cfgdump_duration(double v, char *buf, size_t sz);

#endif

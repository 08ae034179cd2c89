/*
 * version.h - what magpie -V prints: its own version and those of the
 * libraries it runs with, as each library reports itself at run time (the
 * shared object loaded, which may be newer than the headers it was built
 * against).
 */
#ifndef MAGPIE_VERSION_H
#define MAGPIE_VERSION_H

#include <stdio.h>

/* "magpie 0.1.0\n" then one "NAME VERSION" line per library. */
void version_print(FILE *out);

#endif

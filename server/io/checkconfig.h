/* tandem --check-config (checkconfig.c). */
#ifndef TANDEM_IO_CHECKCONFIG_H
#define TANDEM_IO_CHECKCONFIG_H

#include <stdio.h>

#include "tandem/config.h"

/* Checks what the start needs of cfg (files readable, the certificate matching its key and
 * not expired, folders there) without binding a port or creating a file. Writes one line per
 * finding to out and "OK" at the end when nothing stops a start. Returns 0 or 1 (problems). */
int tdm_check_config(const struct tdm_config *cfg, FILE *out);

#endif

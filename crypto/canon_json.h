/* canon_json: the canonical JSON profile that megafs signs.
 *
 * Canonical form: keys sorted (bytewise), no insignificant white space,
 * ASCII only (\uXXXX escapes), integers only (no reals), no duplicate keys.
 * Parsing accepts only text that re-encodes to exactly the same bytes, so a
 * signature always covers the exact bytes that were received. Built on
 * jansson. */
#ifndef MFS_CANON_JSON_H
#define MFS_CANON_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Maximum size of any signed JSON document megafs accepts. */
#define MFS_CJSON_MAX_BYTES (16u << 20)

/* Encodes json canonically into a malloc'ed NUL-terminated string (free()).
 * Returns 0, MFS_E_FORMAT (a real number inside) or -ENOMEM. */
int mfs_cjson_encode(char **out, size_t *out_len, const json_t *json);

/* Parses buf[len]; *out is a new reference (json_decref). Returns 0,
 * MFS_E_FORMAT (not JSON, duplicate key, real number, too large) or
 * MFS_E_NOTCANON (valid JSON that is not in canonical form). why (may be
 * NULL) receives a one-line reason. */
int mfs_cjson_parse(json_t **out, const char *buf, size_t len, char *why, size_t why_len);

#endif

/*
 * http_check.c - strict checks on raw bytes, before and beside
 * http-parser: a head's line structure and size (http_head_scan), the
 * request line as received (RFC 9112 §3), the Host field value (§3.2) and
 * the token grammar they and the chunked decoder share. No parser state.
 */
#include "http.h"

#include <ctype.h>
#include <string.h>

bool http_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && c < 0x80 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

enum http_line_check http_request_line_check(const char *p, size_t len, const char **why)
{
    size_t i = 0;
    while (i + 1 < len && p[i] == '\r' && p[i + 1] == '\n')
        i += 2;
    size_t m = i;
    while (i < len && http_tchar((unsigned char)p[i]))
        i++;
    if (i == m || i >= len || p[i] != ' ') {
        *why = "malformed request line (method)";
        return HTTP_LINE_BAD;
    }
    size_t t = ++i;
    /* visible ASCII only: no control bytes, DEL, bytes over 0x7f, tab or
       second space (RFC 9112 §3, RFC 3986) */
    while (i < len && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == t || i >= len || p[i] != ' ') {
        *why = "malformed request line (whitespace, control or non-ASCII bytes in the target)";
        return HTTP_LINE_BAD;
    }
    i++;
    if (len - i < 10 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9' || p[i + 8] != '\r' ||
        p[i + 9] != '\n') {
        *why = "malformed request line (HTTP version)";
        return HTTP_LINE_BAD;
    }
    if (p[i + 5] != '1' || (p[i + 7] != '0' && p[i + 7] != '1')) {
        *why = "HTTP version not supported";
        return HTTP_LINE_VERSION;
    }
    return HTTP_LINE_OK;
}

/* unreserved / pct-encoded / sub-delims (RFC 3986 §3.2.2 reg-name); "%" is
   allowed without checking its digits, as url.c decodes nothing */
static bool http_is_regname_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("-._~%!$&'()*+,;=", c) != NULL;
}

bool http_host_valid(const char *v, size_t len)
{
    size_t i = 0;
    if (len > 0 && v[0] == '[') {
        /* IP-literal: the address itself is checked where it is parsed */
        for (i = 1; i < len && v[i] != ']'; i++)
            if (!(isxdigit((unsigned char)v[i]) || v[i] == ':' || v[i] == '.' || v[i] == 'v' ||
                  v[i] == 'V'))
                return false;
        if (i == len)
            return false;
        i++;
    } else {
        while (i < len && http_is_regname_char((unsigned char)v[i]))
            i++;
    }
    if (i == len)
        return true;
    if (v[i] != ':' || len - i - 1 > 5)
        return false;
    unsigned port = 0;
    for (i++; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        port = port * 10 + (unsigned)(v[i] - '0');
    }
    return port <= 65535;
}

/* ---- head scanning ---- */

enum http_scan http_head_scan(const char *p, size_t len, size_t max_head, size_t max_line,
                              size_t *scanned, size_t *head_len)
{
    size_t i = *scanned;
    /* Leading empty lines before a request line are ignored (RFC 9112 §2.2),
       but count towards max_head: else they could fill the buffer for ever. */
    size_t start = 0;
    while (start + 1 < len && p[start] == '\r' && p[start + 1] == '\n')
        start += 2;
    if (start >= max_head)
        return HTTP_SCAN_TOO_LARGE;
    if (i < start)
        i = start;
    /* whether the request line ended in what earlier calls scanned: found
       once here, not for every line (that would be quadratic in the lines) */
    bool first_done = i > start && memchr(p + start, '\n', i - start) != NULL;
    for (; i < len; i++) {
        if (i >= max_head)
            return HTTP_SCAN_TOO_LARGE;
        char c = p[i];
        if (c == '\r') {
            if (i + 1 == len)
                break; /* need the next byte */
            if (p[i + 1] != '\n')
                return HTTP_SCAN_BAD;
            continue;
        }
        if (c != '\n')
            continue;
        if (i == start || p[i - 1] != '\r')
            return HTTP_SCAN_BAD;
        size_t line_start = i - 1;
        /* the request line is the first line: bound it, without CRLF, for 414 */
        if (!first_done && line_start - start > max_line)
            return HTTP_SCAN_URI_LONG;
        first_done = true;
        if (line_start >= 2 && p[line_start - 1] == '\n') {
            *head_len = i + 1;
            *scanned = i + 1;
            return HTTP_SCAN_DONE;
        }
        if (i + 1 == len)
            break; /* the next byte tells whether this line is folded */
        if (p[i + 1] == ' ' || p[i + 1] == '\t')
            return HTTP_SCAN_BAD; /* obs-fold, or whitespace before the first field */
    }
    *scanned = i;
    /* an unended request line (i is at its end or its CR); one that ended
       with the last byte was bounded above */
    if (!first_done && i - start > max_line)
        return HTTP_SCAN_URI_LONG;
    return HTTP_SCAN_MORE;
}

/*
 * http_check.c - strict checks on what http-parser lets through: the
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


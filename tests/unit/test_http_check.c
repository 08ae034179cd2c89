/*
 * test_http_check.c - http_check.c: the strict request-line check (method,
 * single spaces, visible-ASCII target, HTTP/1.0 or 1.1 else 505), Host
 * authority validation and the token grammar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "http.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#include "rows.h"

static void test_request_line_check(void **state)
{
    static const struct {
        const char *in;
        enum http_line_check want;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", HTTP_LINE_OK},
        {"GET / HTTP/1.0\r\n\r\n", HTTP_LINE_OK},
        {"\r\n\r\nGET / HTTP/1.1\r\n\r\n", HTTP_LINE_OK},
        {"OPTIONS * HTTP/1.1\r\n\r\n", HTTP_LINE_OK},
        {"GET http://h:1/a?b=%20&c=\"{}|\" HTTP/1.1\r\n\r\n", HTTP_LINE_OK},
        {"M-SEARCH * HTTP/1.1\r\n\r\n", HTTP_LINE_OK},
        {"GET  / HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET /  HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET\t/ HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET /a\tb HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET / \tHTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET /\x01 HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET /\x7f HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET /\x0c HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET / HTTP/1.1 \r\n\r\n", HTTP_LINE_BAD},
        {" GET / HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"G@T / HTTP/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET / http/1.1\r\n\r\n", HTTP_LINE_BAD},
        {"GET / HTTP/11\r\n\r\n", HTTP_LINE_BAD},
        {"GET / HTTP/1.10\r\n\r\n", HTTP_LINE_BAD},
        {"GET /\r\n\r\n", HTTP_LINE_BAD},
        {"GET / HTTP/1.9\r\n\r\n", HTTP_LINE_VERSION},
        {"GET / HTTP/2.0\r\n\r\n", HTTP_LINE_VERSION},
        {"GET / HTTP/0.9\r\n\r\n", HTTP_LINE_VERSION},
        {"GET / HTTP/1.2\r\n\r\n", HTTP_LINE_VERSION},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        const char *why = NULL;
        enum http_line_check r = http_request_line_check(cases[i].in, strlen(cases[i].in), &why);
        if (r != cases[i].want)
            row_fail("\"%s\": %d, want %d", cases[i].in, r, cases[i].want);
        if (r != HTTP_LINE_OK && (!why || !*why))
            row_fail("\"%s\": no reason", cases[i].in);
    }
    rows_done();
}

static void test_host_valid(void **state)
{
    static const struct {
        const char *v;
        bool want;
    } cases[] = {
        {"example.com", true},   {"example.com:8080", true}, {"127.0.0.1:1", true},
        {"[::1]:80", true},      {"[::1]", true},            {"", true},
        {"a-b_c~d.e", true},     {"h:", true},               {"xn--bcher-kva.example", true},
        {"a b", false},          {"a\tb", false},            {"a\x01", false},
        {"a\x7f", false},        {"\xc3\xa9.com", false},    {"h:80:81", false},
        {"h:65536", false},      {"h:8x", false},            {"h/p", false},
        {"u@h", false},          {"[::1", false},            {"[::1]x", false},
        {"[::g]", false},        {"h:123456", false},        {"h?q", false},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++)
        if (http_host_valid(cases[i].v, strlen(cases[i].v)) != cases[i].want)
            row_fail("\"%s\": want %d", cases[i].v, cases[i].want);
    rows_done();
}

static void test_tchar(void **state)
{
    static const char yes[] = "!#$%&'*+-.^_`|~09azAZ";
    static const char no[] = " \t\"(),/:;<=>?@[\\]{}\x7f";
    (void)state;
    for (size_t i = 0; i < sizeof(yes) - 1; i++)
        if (!http_tchar((unsigned char)yes[i]))
            row_fail("'%c' is a tchar", yes[i]);
    for (size_t i = 0; i < sizeof(no) - 1; i++)
        if (http_tchar((unsigned char)no[i]))
            row_fail("0x%02x is not a tchar", (unsigned char)no[i]);
    for (unsigned c = 0x80; c < 0x100; c++)
        if (http_tchar((unsigned char)c))
            row_fail("0x%02x is not a tchar", c);
    if (http_tchar(0))
        row_fail("NUL is not a tchar");
    rows_done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_request_line_check, rows_reset),
        cmocka_unit_test_setup(test_host_valid, rows_reset),
        cmocka_unit_test_setup(test_tchar, rows_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

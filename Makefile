# magpie build. `make` builds build/magpie; `make test` runs every test,
# once normally and once under AddressSanitizer + UndefinedBehaviorSanitizer.

BUILD    ?= build
SAN      ?=
CC       ?= cc
PKGS     := openssl zlib yaml-0.1 libcares libbrotlienc libbrotlidec libzstd libpcre2-8 libpsl libcrypt
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wsign-compare -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -DMAGPIE_VERSION='"$(VERSION)"' -Isrc
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS     := -lev -lhttp_parser $(PKG_LIBS) -lm

SRCS     := $(sort $(wildcard src/*.c src/cache/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIBOBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit e2e check clean install uninstall bench fuzz fuzz-build fuzz-replay
all: $(BUILD)/magpie

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h src/cache/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/magpie: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libmagpie.a: $(LIBOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libmagpie.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmagpie.a $(LIBS) -lcmocka

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

e2e: $(BUILD)/magpie
	MAGPIE_BIN=$(abspath $(BUILD)/magpie) sh tests/run-e2e.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/magpie -c etc/magpie.yaml

# Everything: unit tests plain and sanitized, end-to-end against the
# sanitized daemon (which also fails the run on a leak at exit), and one
# closing line adding them up.
test: deps
	@sh tests/run-all.sh

check: test

# Throughput, latency and memory against nginx serving the same files
# directly (docs/PERFORMANCE.md); not part of `make test`. Installs nginx and
# wrk when missing, takes a few minutes and needs the machine to itself.
bench: deps
	@sh scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	/usr/bin/python3 bench/run.py --magpie $(abspath $(BUILD)/magpie)

# Fuzzing (tests/fuzz/): `make fuzz` builds each tests/fuzz/fuzz_<name>.c
# as a libFuzzer target with clang (its own objects in build/fuzz/, never
# mixed with gcc's) and runs it for FUZZ_SECONDS on a copy of its corpus,
# failing on any crash, leak or timeout. `make fuzz-replay` (part of `make
# test`) needs no clang: gcc links each target with tests/fuzz/replay.c
# and runs it once over its corpus.
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_HDRS    := $(wildcard tests/fuzz/*.h)
FUZZ_CFLAGS  := -O1 -g -std=gnu11 $(WARN) -D_GNU_SOURCE -DMAGPIE_VERSION='"$(VERSION)"' -Isrc \
                -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS    := $(LIBOBJS:$(BUILD)/obj/%.o=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
REPLAY_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/fuzz_%)

$(FUZZ_DIR)/obj/%.o: src/%.c $(wildcard src/*.h src/cache/*.h) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/libmagpie.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $(FUZZ_DIR)/libmagpie.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Itests/fuzz -o $@ $< \
		$(FUZZ_DIR)/libmagpie.a $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_NAMES)

$(BUILD)/fuzz-replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_HDRS) $(BUILD)/libmagpie.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/fuzz $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(BUILD)/libmagpie.a $(LIBS)

fuzz-replay: $(REPLAY_BINS)
	@sh tests/fuzz/replay.sh $(BUILD)/fuzz-replay $(FUZZ_NAMES)

clean:
	rm -rf build

# Install: `make install [PREFIX=/usr/local] [DESTDIR=]`; `make uninstall`
# with the same variables removes what it put. The binary goes to
# $(PREFIX)/sbin, the units (every file in systemd/) to
# $(PREFIX)/lib/systemd/system, which systemd searches for /usr and
# /usr/local alike, with the /usr/local/ paths they are written with changed
# to $(PREFIX)/; man pages to $(PREFIX)/share/man, README to
# $(PREFIX)/share/doc/magpie. Configuration stays under /etc whatever the
# prefix: etc/magpie.yaml (with the cache in systemd's CacheDirectory,
# /var/cache/magpie, not under a checkout) as /etc/magpie/magpie.yaml, and
# etc/logrotate.d/magpie when the tree has it; neither replaces a file
# already there, and uninstall leaves them when they were changed.
PREFIX     ?= /usr/local
SBINDIR    := $(PREFIX)/sbin
UNITDIR    := $(PREFIX)/lib/systemd/system
MANDIR     := $(PREFIX)/share/man
DOCDIR     := $(PREFIX)/share/doc/magpie
UNITS      := $(wildcard systemd/*)
LOGROTATE  := $(wildcard etc/logrotate.d/magpie)
CONF_SED   := sed 's|^  dir: var/cache$$|  dir: /var/cache/magpie|'
# $(call conf_install,command writing the file to stdout,destination)
conf_install = [ -e $(DESTDIR)$(2) ] || { install -d $(DESTDIR)$(dir $(2)) && \
	$(1) > $(DESTDIR)$(2).new && chmod 0644 $(DESTDIR)$(2).new && \
	mv $(DESTDIR)$(2).new $(DESTDIR)$(2); }
# $(call conf_uninstall,command writing the file to stdout,destination)
conf_uninstall = if [ -e $(DESTDIR)$(2) ]; then \
	if $(1) | cmp -s - $(DESTDIR)$(2); then rm -f $(DESTDIR)$(2); \
	else echo "uninstall: keeping $(DESTDIR)$(2), which was changed"; fi; fi

install: all
	install -D -m 0755 $(BUILD)/magpie $(DESTDIR)$(SBINDIR)/magpie
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 docs/magpie.8 $(DESTDIR)$(MANDIR)/man8/magpie.8
	install -D -m 0644 docs/magpie.yaml.5 $(DESTDIR)$(MANDIR)/man5/magpie.yaml.5
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(notdir $(UNITS)); do \
		sed 's|/usr/local/|$(PREFIX)/|g' systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	$(call conf_install,$(CONF_SED) etc/magpie.yaml,/etc/magpie/magpie.yaml)
ifneq ($(LOGROTATE),)
	$(call conf_install,cat $(LOGROTATE),/etc/logrotate.d/magpie)
endif

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/magpie $(DESTDIR)$(DOCDIR)/README.md \
		$(DESTDIR)$(MANDIR)/man8/magpie.8 $(DESTDIR)$(MANDIR)/man5/magpie.yaml.5 \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	$(call conf_uninstall,$(CONF_SED) etc/magpie.yaml,/etc/magpie/magpie.yaml)
	-rmdir $(DESTDIR)/etc/magpie 2>/dev/null
ifneq ($(LOGROTATE),)
	$(call conf_uninstall,cat $(LOGROTATE),/etc/logrotate.d/magpie)
endif

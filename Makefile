# Qorgau - one top-level Makefile.
#   make            build ./qorgau (-O2, strict warnings)
#   make check      all tests, then the unit suites, fuzz seeds and SAN_SCRIPTS under ASan+UBSan
#   make demo       scan the bundled capture with the bundled sample order, then (as root) live
#   make bench      benchmarks (figures go to docs/BENCHMARKS.md by hand)
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make lint       include layering, banned functions, formatting (part of make check)
#   make format     reformat every C file with .clang-format
#   make deb        the Debian package in build/deb/ (docs/deploy.md); make man: the man pages
# Variables: BUILD (output dir), SANITIZE (e.g. address,undefined), CC.

CC       ?= gcc
BUILD    ?= build
SANITIZE ?=
FUZZ_SECONDS ?= 60
DEPS_STAMP := .deps-installed
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
SCRIPTS  ?= $(wildcard tests/scripts/*.sh)
# Scripts that measure a race against a server (tap.sh: the injected reset must beat the answer):
# `make check` runs them after the background builds, on a machine otherwise quiet.
RACE_SCRIPTS := tests/scripts/tap.sh

PKGS     := libpcap libidn2 jansson liburcu libnghttp2 nettle libcrypto libcap libmicrohttpd expat hiredis libcares libnetfilter_queue libmnl gnutls libxxhash libnftables
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wvla -Wpointer-arith -Wconversion -Wno-sign-conversion
CSTD     := -std=c11 -D_GNU_SOURCE
# Every include is written from the top of the tree ("proxy/flow/flowtab.h"); which folder may
# include which is checked by `make lint` (tests/lint/layers.sh, the order is in docs/architecture.md).
INC      := -I.
OPT      := -O2 -g
ifneq ($(SANITIZE),)
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
# libmicrohttpd and GnuTLS are compiled against but not linked: proxy/daemon/mhdlib.c loads them
# when a server starts (every other command is spared loading them and their dependencies);
# libpcap likewise, by proxy/capture/pcaplib.c when a capture needs it, libcrypto by
# rules/orders/cryptolib.c when an order's signature is checked or made, and libmnl and
# libnetfilter_queue by proxy/capture/nfqlib.c when queue mode opens a queue, libnftables by
# proxy/enforce/nftlib.c when the kernel drop of IP entries is set up. Tests and tools
# that call libpcap or libcrypto themselves link them (LDLIBS_PCAP, LDLIBS_CRYPTO).
PKGS_DLOPEN := libmicrohttpd gnutls libpcap libcrypto libnetfilter_queue libmnl libnftables
LDLIBS_PCAP = $(shell pkg-config --libs libpcap 2>/dev/null)
LDLIBS_CRYPTO = $(shell pkg-config --libs libcrypto 2>/dev/null)
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(INC) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LDLIBS_ALL = $(shell pkg-config --libs $(filter-out $(PKGS_DLOPEN),$(PKGS)) 2>/dev/null) -ldl -lpthread -lm $(LDLIBS)
LDFLAGS_ALL = $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard common/*.c rules/*/*.c proxy/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libqorgau.a
BIN      := $(BUILD)/qorgau

TEST_SRC := $(sort $(wildcard tests/unit/*/check_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC := $(wildcard tests/lib/*.c)
TEST_HELPER_OBJ := $(TEST_HELPER_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps check build-tests test test-unit test-san test-scripts demo bench fuzz fuzz-build lint format clean

all: deps qorgau

deps: $(DEPS_STAMP)
$(DEPS_STAMP): deploy/install-deps.sh
	sh deploy/install-deps.sh
	@touch $@

qorgau: $(BIN)
	cp $(BIN) $@

# Objects wait for the dependency stamp (order-only), so `make -j2` on a fresh machine does not
# compile against headers install-deps.sh is still installing. pkg-config runs in the recipes,
# after the install.
$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/proxy/main.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_HELPER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) $(LDLIBS_PCAP) $(LDLIBS_CRYPTO) $(shell pkg-config --libs check)

# check_probe runs an OpenSSL TLS server in memory against the verify probe's ClientHello.
$(BUILD)/tests/daemon/check_probe: LDLIBS += -lssl

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(TEST_HELPER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) $(LDLIBS_PCAP) $(LDLIBS_CRYPTO)

# Unit suites (Check). CK_FORK stays on so a crashing case is reported, not fatal to the run.
# Each suite's outcome goes to $(RESULTS) through tests/run_suite.sh; `make check` closes with
# tests/summary.sh over both builds. A suite that cannot run here fails, unless QG_ALLOW_SKIP=1.
RESULTS = $(BUILD)/results.txt
test-unit: $(TEST_BIN) $(BIN) $(TOOL_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  QG_BIN=$(BIN) QG_TOOLS=$(BUILD)/tools sh tests/run_suite.sh $(RESULTS) $$t $$t || fail=1; done; \
	  exit $$fail

# End-to-end scripts (scan over the corpus and the crafted evasion captures; live modes in
# network namespaces).
test-scripts: $(BIN) $(TOOL_BIN)
	@fail=0; for s in $(SCRIPTS); do [ -e "$$s" ] || continue; \
	  QG_BIN=$(BIN) QG_TOOLS=$(BUILD)/tools sh tests/run_suite.sh $(RESULTS) "$$s$(if $(SANITIZE), ($(SANITIZE)))" sh $$s || fail=1; done; \
	  exit $$fail

test: test-unit test-scripts

# Compiles everything the suites run (`make check` builds with -j$(JOBS), then runs serially).
build-tests: $(BIN) $(TEST_BIN) $(TOOL_BIN)

# The sanitizer pass: every unit suite, every fuzz target's seeds, and the scripts in
# SAN_SCRIPTS (docs/testing.md says why these: each feeds outside input to daemon code that the
# unit suites do not drive end to end). `make test-san SAN_SCRIPTS="$$(ls tests/scripts/*.sh)"`
# runs them all.
SAN_SCRIPTS ?= $(filter $(addprefix tests/scripts/,$(SAN_SCRIPT_NAMES)),$(wildcard tests/scripts/*.sh))
SAN_SCRIPT_NAMES := corpus.sh evasion.sh pcapng.sh daemon.sh inline.sh fallback.sh dashboard.sh
test-san:
	$(MAKE) -j1 BUILD=build/san SANITIZE=address,undefined SCRIPTS="$(SAN_SCRIPTS)" test-unit test-scripts test-fuzz-regress

# Every suite runs even when an earlier one failed; the summary names the failures and fails.
check: deps
	@rm -f build/results.txt build/san/results.txt build/san/build.rc
	@mkdir -p build/san
	@sh tests/run_suite.sh build/results.txt "make lint" $(MAKE) -s lint || true
	@$(MAKE) -j$(JOBS) -k build-tests || echo "fail make build-tests (a build step failed)" >>build/results.txt
	@# The sanitizer and fuzz builds compile at the lowest priority while the suites run (they
	@# mostly wait on the network and the servers they start); the sanitized suites run after.
	@( nice -n 19 $(MAKE) -s -j$(JOBS) -k BUILD=build/san SANITIZE=address,undefined build-tests fuzz-build \
	    >build/san/build.log 2>&1; echo $$? >build/san/build.rc ) & bg=$$!; \
	  $(MAKE) -j1 -k test-unit test-scripts SCRIPTS="$(filter-out $(RACE_SCRIPTS),$(SCRIPTS))" || \
	    echo "fail make test (a build step or suite failed)" >>build/results.txt; \
	  wait $$bg; \
	  if [ "$$(cat build/san/build.rc 2>/dev/null)" != 0 ]; then cat build/san/build.log; \
	    echo "fail make build-tests (sanitizer build) (a build step failed)" >>build/san/results.txt; fi
	@$(MAKE) -j1 -k test-scripts SCRIPTS="$(RACE_SCRIPTS)" || \
	  echo "fail make test (a build step or suite failed)" >>build/results.txt
	@$(MAKE) -j1 -k test-san || echo "fail make test-san (a build step or suite failed)" >>build/san/results.txt
	@sh tests/summary.sh build/results.txt build/san/results.txt

# Fuzz targets are built with clang + libFuzzer; in `make check` they replay their seed corpus
# only (regression); `make fuzz` explores for FUZZ_SECONDS each.
FUZZ_BUILD := build/fuzz
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CFLAGS = $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(INC) \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The library is compiled once for every target (instrumented, no main), then each target links it.
FUZZ_LIB_CFLAGS = $(subst -fsanitize=fuzzer$(COMMA),-fsanitize=fuzzer-no-link$(COMMA),$(FUZZ_CFLAGS))
COMMA := ,
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB := $(FUZZ_BUILD)/libqorgau-fuzz.a
$(FUZZ_BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	clang $(FUZZ_LIB_CFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(LDLIBS_ALL)
fuzz-build: $(FUZZ_BIN)
test-fuzz-regress: $(FUZZ_BIN)
	@fail=0; for f in $(FUZZ_BIN); do n=$$(basename $$f); d=tests/fuzz/corpus/$${n#fuzz_}; \
	  [ -d $$d ] || d=tests/fuzz/corpus; \
	  sh tests/run_suite.sh $(RESULTS) "$$f (seeds: $$d)" sh -c "$$f -runs=0 $$d >/dev/null 2>&1 || $$f -runs=0 $$d" || fail=1; done; \
	  exit $$fail
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); d=tests/fuzz/corpus/$${n#fuzz_}; mkdir -p $(FUZZ_BUILD)/work/$$n; \
	  echo "== $$f ($(FUZZ_SECONDS)s)"; $$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/work/$$n $$d || exit 1; done

demo: all
	sh tests/demo.sh ./qorgau

bench: all $(TOOL_BIN)
	sh deploy/install-deps.sh --bench
	sh tests/bench/run.sh $(BIN) $(BUILD)/tools
	sh tests/bench/tariff_scan.sh $(BIN)
	sh tests/bench/tapcap.sh $(BIN) $(BUILD)/tools
	sh tests/bench/inline.sh $(BIN)
	QG_BENCH_PAIRED=8 QG_BENCH_HS=2000 QG_BENCH_GET=300 QG_BENCH_BLOCK_SECS=2 sh tests/bench/inline.sh $(BIN)
	sh tests/bench/notice.sh $(BUILD)
	sh tests/bench/store.sh $(BUILD)/tools
	sh tests/bench/rsimage.sh $(BUILD)/tools
	sh tests/bench/resolve.sh $(BUILD)/tools
	sh tests/bench/ipdrop.sh $(BUILD)/tools
	sh tests/bench/cut.sh $(BUILD)/tools
	sh tests/bench/fleet.sh $(BIN)

# Layering (tests/lint/layers.sh), banned functions, and formatting: every tracked C file must be
# exactly what clang-format 14 makes of it with the checked-in .clang-format (`make format` fixes).
CLANG_FORMAT ?= clang-format-14
lint: $(DEPS_STAMP)
	@sh tests/lint/layers.sh || { echo "lint: an include reaches up the layering (docs/architecture.md)"; exit 1; }
	@! grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi)\s*\(' $$(git ls-files '*.c' '*.h') || \
	  { echo "lint: banned function (see docs/STYLE)"; exit 1; }
	@$(CLANG_FORMAT) --dry-run --Werror $$(git ls-files '*.c' '*.h') || \
	  { echo "lint: formatting differs from .clang-format (run: make format)"; exit 1; }
	@echo "lint: ok"

format: $(DEPS_STAMP)
	$(CLANG_FORMAT) -i $$(git ls-files '*.c' '*.h')

# The Debian package (deploy/mkdeb.sh: stripped binary, unit, conffile, samples, man pages,
# docs; Depends from dpkg-shlibdeps) and the man pages alone (deploy/mkman.sh). The packaged
# binary is built apart, in $(BUILD)/deb-build, with Debian's hardening flags (fortified libc
# calls, stack protector, full RELRO with immediate binding).
DEB_BUILD   := $(BUILD)/deb-build
DEB_CFLAGS  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
DEB_LDFLAGS := -Wl,-z,relro -Wl,-z,now
.PHONY: deb man
deb: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory BUILD=$(DEB_BUILD) CFLAGS="$(DEB_CFLAGS)" LDFLAGS="$(DEB_LDFLAGS)" \
	  $(DEB_BUILD)/qorgau
	@sh deploy/mkdeb.sh $(DEB_BUILD)/qorgau $(BUILD)/deb
man: $(BIN)
	@sh deploy/mkman.sh $(BIN) $(BUILD)/man && echo "$(BUILD)/man/qorgau.8 $(BUILD)/man/qorgau.conf.5"

clean:
	rm -rf build qorgau

.SECONDARY: $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

# every object's header dependencies: the library's, the tests', the helpers' and the tools'
# (a test compiled against an old header would read a struct of another layout)
-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/proxy/main.d $(FUZZ_LIB_OBJ:.o=.d) \
         $(TEST_SRC:%.c=$(BUILD)/obj/%.d) $(TEST_HELPER_OBJ:.o=.d) \
         $(TOOL_SRC:%.c=$(BUILD)/obj/%.d)

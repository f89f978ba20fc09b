# tests/tests.mk: building the tests (included by the top Makefile).
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
# Helper programs the tests run (tests/tools): each is built into
# $(BUILD)/tests/NAME; mktoken alone does not link the core.
MKTOKEN    := $(BUILD)/tests/mktoken
TOOL_SRC   := $(filter-out tests/tools/mktoken.c,$(wildcard tests/tools/*.c))
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
# They test the core's parts, not only hsmcache.h: linked with its objects
# (libhsmcache.so exports hsmcache.h's calls alone).
TEST_LIBS  = $(CORE_OBJ) $(PKG_LIBS) -lcmocka -lpthread -ldl

tests-build: $(UNIT_BIN) $(TOOL_BIN) $(MKTOKEN)

$(BUILD)/tests/unit/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -Wl,-rpath,'$$ORIGIN/../..' -o $@ $< $(TEST_LIBS)

$(BUILD)/tests/%: tests/tools/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -Wl,-rpath,'$$ORIGIN/..' -o $@ $< $(TEST_LIBS)

$(MKTOKEN): tests/tools/mktoken.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(PKG_LIBS) -ldl

# Targets that start with `make deps` run the build in a sub-make: this
# Makefile's pkg-config flags are read when it is parsed, which on a fresh
# machine is before deps has installed anything.
test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@bash tests/run.sh

# The whole suite with AddressSanitizer and UBSan, in its own build dir.
# Host programs (pdns_server, named, pkcs11-tool, openssl...) are not
# instrumented: tests/run.sh preloads libasan into them, and only them,
# through wrappers first in PATH; leak checking stays on for our own test
# programs.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-asan:
	@$(MAKE) --no-print-directory deps
	$(MAKE) BUILD=build-asan SANITIZE="$(ASAN_FLAGS)" OPT="-O1 -g" all
	@HC_SANITIZER=asan BUILD=$(CURDIR)/build-asan bash tests/run.sh

# Valgrind's memcheck over the CLI and a PowerDNS signing path, on the
# plain build (tests/integration/valgrind_run.sh).
.PHONY: test-valgrind
test-valgrind:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@bash tests/run.sh valgrind_run

# The concurrency test under ThreadSanitizer.
test-tsan:
	@$(MAKE) --no-print-directory deps
	$(MAKE) BUILD=build-tsan SANITIZE="-fsanitize=thread" OPT="-O1 -g" all
	@HC_SANITIZER=tsan BUILD=$(CURDIR)/build-tsan bash tests/run.sh concurrency

# make bench-NAME runs tests/bench/NAME.sh (dashes become underscores);
# its headline figures go to $(BUILD)/bench/NAME.results. make bench runs
# the benches named in BENCH (default all, in this order), each even when
# one before it failed, then prints tests/bench/summary.py's table of the
# goals over them; it fails when a bench failed.
BENCHES := front ssh pdns-calls pdns bind agent scale fleet ha
BENCH ?= $(BENCHES)
BENCH_DIR = $(BUILD)/bench
bench-%:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory bench-run-$*

bench-run-%:
	@test -f tests/bench/$(subst -,_,$*).sh || { echo "no bench $* (benches: $(BENCHES))"; exit 1; }
	@mkdir -p $(BENCH_DIR)
	@rm -f $(BENCH_DIR)/$*.results
	@HC_BENCH_RESULTS=$(abspath $(BENCH_DIR))/$*.results bash tests/bench/$(subst -,_,$*).sh

.PHONY: bench
bench:
	@for b in $(BENCH); do case " $(BENCHES) " in *" $$b "*) ;; \
	    *) echo "BENCH: no bench $$b (benches: $(BENCHES))"; exit 1 ;; esac; done
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@st=0; for b in $(BENCH); do echo "== bench-$$b"; \
	    $(MAKE) --no-print-directory bench-run-$$b || { st=1; echo "== bench-$$b FAILED"; }; done; \
	echo; python3 tests/bench/summary.py $(BENCH_DIR) $(BENCH); exit $$st

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 20
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -Ishared/include -Ishared/src $(PKG_CFLAGS) -o $@ $< $(CORE_SRC) $(PKG_LIBS) -lpthread \
	    $(FUZZ_EXTRA)
# The agent's audit record check (it includes shared/agent/audit_record.c).
build-fuzz/fuzz_audit_record: shared/agent/audit_record.c sshca-plugin/jsonline.c
build-fuzz/fuzz_audit_record: FUZZ_EXTRA = -Ishared/agent -Isshca-plugin sshca-plugin/jsonline.c $(JSON_CFLAGS) $(JSON_LIBS)

fuzz:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	    name=$$(basename $$f); mkdir -p build-fuzz/corpus-$$name; \
	    echo "== $$name ($(FUZZ_SECONDS)s)"; \
	    if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build-fuzz/corpus-$$name tests/fuzz/seeds/$$name > build-fuzz/$$name.log 2>&1; then \
	        tail -40 build-fuzz/$$name.log; echo "fuzz: $$name FAILED"; exit 1; \
	    fi; \
	    grep -E 'Done [0-9]+ runs|exec_per_sec' build-fuzz/$$name.log; \
	done

# Modules whose function list module.c refuses at load (test_p11call).
BADLIST := $(foreach f,null version nosign,$(BUILD)/tests/unit/badlist-$(f).so)
tests-build: $(BADLIST)
$(BUILD)/tests/unit/badlist-%.so: tests/unit/badlist.c
	@mkdir -p $(dir $@)
	@echo "  CC  $< ($*)"
	@$(CC) $(CFLAGS) -Wno-missing-prototypes -shared $(LDFLAGS) -DBADLIST_$* -o $@ $<

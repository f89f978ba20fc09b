# hsmcache: top-level build. `make` builds everything into build/;
# every artifact runs from there (RPATH $ORIGIN). See README.md.

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
LIBDIR   ?= $(PREFIX)/lib/$(shell $(CC) -print-multiarch 2>/dev/null)
PKGS     := p11-kit-1 libcrypto inih lmdb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libjansson: JSON read and written by hsmcached (audit records) and the
# SSH CA module only; the other fronts do not map it.
JSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JSON_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null)
P11_DEFS   := -DHC_P11_MODULE_PATH='"$(shell pkg-config --variable=p11_module_path p11-kit-1 2>/dev/null)"' \
              -DHC_P11_PACKAGE_MODULES='"$(shell pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null)"'

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-format-truncation
OPT      ?= -O2 -g
# Hardening, as Debian's dpkg-buildflags gives it (hardening=+all): stack
# protector and clash protection, control-flow protection where the
# compiler has it, _FORTIFY_SOURCE (unless the caller's flags set their
# own), full RELRO with immediate binding. Flags from the environment
# (CPPFLAGS, CFLAGS, LDFLAGS, e.g. from dpkg-buildflags) come after ours:
# they add to these, never replace them.
cc_has    = $(shell $(CC) -Werror $(1) -x c -c -o /dev/null /dev/null 2>/dev/null && echo $(1))
FORTIFY  := $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),,-D_FORTIFY_SOURCE=2)
HARDEN_CFLAGS  := -fstack-protector-strong $(call cc_has,-fstack-clash-protection) \
                  $(call cc_has,-fcf-protection) $(FORTIFY)
HARDEN_LDFLAGS := -Wl,-z,relro -Wl,-z,now
CFLAGS   := $(OPT) -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(HARDEN_CFLAGS) -Ishared/include -Ishared/src \
            $(PKG_CFLAGS) $(P11_DEFS) $(SANITIZE) $(CPPFLAGS) $(CFLAGS)
LDFLAGS  := $(HARDEN_LDFLAGS) $(SANITIZE) $(LDFLAGS)
RPATH    := -Wl,-rpath,'$$ORIGIN' -Wl,--enable-new-dtags

CORE_SRC := $(wildcard shared/src/*.c shared/src/*/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
# The front's common part; each front module adds one profile file.
FRONT_SRC := $(filter-out shared/front/profile_%.c,$(wildcard shared/front/*.c))
FRONT_OBJ := $(FRONT_SRC:%.c=$(BUILD)/obj/%.o)
PDNS_SRC  := $(wildcard pdns-backend/*.c)
PDNSHSM_SRC := $(wildcard pdns-backend/hsm/*.c)
PDNSHSM_OBJ := $(PDNSHSM_SRC:%.c=$(BUILD)/obj/%.o)
PDNS_OBJ  := $(PDNS_SRC:%.c=$(BUILD)/obj/%.o)
PROV_SRC  := $(wildcard bind-keystore/*.c)
PROV_OBJ  := $(PROV_SRC:%.c=$(BUILD)/obj/%.o)
SSHCA_SRC := $(wildcard sshca-plugin/*.c)
SSHCA_OBJ := $(SSHCA_SRC:%.c=$(BUILD)/obj/%.o)
AGENT_SRC := $(wildcard shared/agent/*.c)
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC  := $(wildcard shared/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SIM_SRC  := $(wildcard tests/sim/*.c)

LIB      := $(BUILD)/libhsmcache.so
FRONT    := $(BUILD)/hsmcache-pkcs11.so
SSHCA    := $(BUILD)/hsmcache-sshca.so
PDNS     := $(BUILD)/hsmcache-pdns.so
PDNSHSM  := $(BUILD)/pdns-hsm
PROV     := $(BUILD)/hsmcache-provider.so
CLI      := $(BUILD)/hsmcache
AGENT    := $(BUILD)/hsmcached
SIM      := $(BUILD)/tests/hsmsim.so
SIMCTL   := $(BUILD)/tests/hsmsim-ctl

.PHONY: all deps test test-asan test-tsan fuzz fuzz-run demo install clean bench tests-build
all: $(LIB) $(FRONT) $(PDNS) $(PDNSHSM) $(SSHCA) $(PROV) $(CLI) $(AGENT) $(SIM) $(SIMCTL) tests-build

deps:
	@sh scripts/install-deps.sh

# Objects are rebuilt when the flags change (a hardening flag added, a
# sanitizer, dpkg-buildflags), not only when a source does: make alone
# would keep objects compiled without them. $(BUILD)/flags holds the last
# flags and is rewritten only when they differ, so its time stamp is when
# they changed.
FLAGS_FILE := $(BUILD)/flags
FLAGS_NOW  := $(CC) $(CFLAGS) $(LDFLAGS)
ifneq ($(file <$(FLAGS_FILE)),$(FLAGS_NOW))
$(shell mkdir -p $(BUILD))
$(file >$(FLAGS_FILE),$(FLAGS_NOW))
endif

$(BUILD)/obj/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# hsmcache.h is the boundary (README "Layout"). libhsmcache.so exports
# exactly the calls hsmcache.h declares: the version script is generated
# from the header, so the two cannot disagree (source_layers.sh compares
# the exported symbols with the header's declarations). Who links what:
# - plugins use hsmcache.h alone: the front modules' profiles, the OpenSSL
#   provider, the SSH CA module and pdns-hsm (a PowerDNS tool built on the
#   public calls, which links libhsmcache.so);
# - the core product links the core's objects itself and may use its
#   internals: the front modules and the provider (one library fewer to
#   map in every short-lived host), hsmcache (the operator's tool for the
#   core's own PIN store, caches, stats and shared tier) and hsmcached
#   (the core served over a socket); as do the unit tests and test tools.
LIB_MAP := $(BUILD)/libhsmcache.map
$(LIB_MAP): shared/include/hsmcache.h
	@mkdir -p $(dir $@)
	{ echo '{ global:'; sed -n 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]\(hc_[a-z0-9_]*\)(.*/    \1;/p' $<; \
	  echo '  local: *; };'; } > $@
$(LIB): $(CORE_OBJ) $(LIB_MAP)
	$(CC) -shared -Wl,-soname,libhsmcache.so -Wl,--version-script=$(LIB_MAP) $(LDFLAGS) \
	    -o $@ $(CORE_OBJ) $(PKG_LIBS) -lpthread

# The PKCS#11 front exports only C_GetFunctionList (and the 3.0 interface
# calls); everything else stays inside.
# Front modules carry the core's objects themselves rather than loading
# libhsmcache.so: a short-lived host (every ssh-keygen run) then maps one
# library fewer and resolves no hc_* symbols at load (the version script
# keeps them local). See the module-loading note in README.md.
FRONT_LINK = $(CC) -shared $(LDFLAGS) -Wl,--version-script=shared/front/exports.map \
	    -o $@ $^ $(PKG_LIBS) -lpthread
$(FRONT): $(FRONT_OBJ) $(BUILD)/obj/shared/front/profile_pkcs11.o $(CORE_OBJ)
	$(FRONT_LINK)

$(BUILD)/obj/sshca-plugin/%.o: CFLAGS += $(JSON_CFLAGS)
$(SSHCA): $(FRONT_OBJ) $(SSHCA_OBJ) $(CORE_OBJ)
	$(FRONT_LINK) $(JSON_LIBS)

$(PDNS): $(FRONT_OBJ) $(PDNS_OBJ) $(CORE_OBJ)
	$(FRONT_LINK)

# The OpenSSL provider also carries the core (one library fewer to map,
# no hc_* symbols to clash with anything in the host).
$(PROV): $(PROV_OBJ) $(CORE_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,--version-script=bind-keystore/exports.map \
	    -o $@ $^ $(PKG_LIBS) -lpthread

# The command-line conventions (--help, getopt_long, exit statuses) that
# hsmcache, pdns-hsm, hsmcached and hsmsim-ctl share: shared/cli/cmdline.h.
CMDLINE_OBJ := $(BUILD)/obj/shared/cli/cmdline.o
$(BUILD)/obj/pdns-backend/hsm/%.o: CFLAGS += -Ishared/cli $(shell pkg-config --cflags libmariadb ldns 2>/dev/null)
$(PDNSHSM): $(PDNSHSM_OBJ) $(CMDLINE_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(RPATH) -o $@ $(PDNSHSM_OBJ) $(CMDLINE_OBJ) -L$(BUILD) -lhsmcache \
	    $(shell pkg-config --libs libmariadb ldns 2>/dev/null) $(PKG_LIBS) -lpthread

# OpenSSH's key formats live with the SSH CA module (sshca-plugin/sshkey.h):
# hsmcache prints CA keys with them, as hsmcached issues with them.
SSHKEY_OBJ := $(BUILD)/obj/sshca-plugin/sshkey.o
$(BUILD)/obj/shared/cli/%.o: CFLAGS += -Isshca-plugin
$(CLI): $(CLI_OBJ) $(SSHKEY_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(SSHKEY_OBJ) $(CORE_OBJ) $(PKG_LIBS) -lpthread

# hsmcached judges issue requests with the SSH CA module's own pure
# parser and policy (sshca-plugin/keygen.h, policy.c), and writes keys and
# audit lines with its sshkey.c and jsonline.c: linked, not copied.
SSHCA_PURE_OBJ := $(patsubst %,$(BUILD)/obj/sshca-plugin/%.o,keygen_argv validity certopts policy sshkey jsonline)
$(BUILD)/obj/shared/agent/%.o: CFLAGS += -Ishared/agent -Isshca-plugin -Ishared/cli $(JSON_CFLAGS)
$(AGENT): $(AGENT_OBJ) $(SSHCA_PURE_OBJ) $(CMDLINE_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(AGENT_OBJ) $(SSHCA_PURE_OBJ) $(CMDLINE_OBJ) $(CORE_OBJ) $(PKG_LIBS) $(JSON_LIBS) -lpthread

# The simulator's pass-through wrappers are generated from p11-kit's header.
SIM_GEN  := $(BUILD)/tests/gen
P11_H    := $(shell pkg-config --variable=includedir p11-kit-1 2>/dev/null)/p11-kit-1/p11-kit/pkcs11.h
$(SIM_GEN)/wrappers.c $(SIM_GEN)/names.c: tests/sim/gen-wrappers.py
	@mkdir -p $(SIM_GEN)
	python3 tests/sim/gen-wrappers.py $(P11_H) $(SIM_GEN)/wrappers.c $(SIM_GEN)/names.c

SIM_CFLAGS := $(CFLAGS) -Itests/sim -Wno-missing-prototypes
$(SIM): tests/sim/hsmsim.c tests/sim/simstate.c tests/sim/hsmsim.h tests/sim/simstate.h $(SIM_GEN)/wrappers.c $(SIM_GEN)/names.c
	$(CC) $(SIM_CFLAGS) -shared -Wl,--version-script=shared/front/exports.map -o $@ \
	    tests/sim/hsmsim.c tests/sim/simstate.c $(SIM_GEN)/wrappers.c $(SIM_GEN)/names.c -ldl -lpthread

$(SIMCTL): tests/sim/hsmsim-ctl.c tests/sim/simstate.c tests/sim/simstate.h $(SIM_GEN)/names.c shared/cli/cmdline.c shared/cli/cmdline.h
	$(CC) $(SIM_CFLAGS) -Ishared/cli -o $@ tests/sim/hsmsim-ctl.c tests/sim/simstate.c $(SIM_GEN)/names.c shared/cli/cmdline.c

include tests/tests.mk

install: all man
	install -d $(DESTDIR)$(LIBDIR)/hsmcache $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/share/p11-kit/modules $(DESTDIR)/etc/hsmcache \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/hsmcache/libhsmcache.so
	install -m 0644 $(FRONT) $(DESTDIR)$(LIBDIR)/hsmcache/hsmcache-pkcs11.so
	install -m 0644 $(PDNS) $(DESTDIR)$(LIBDIR)/hsmcache/hsmcache-pdns.so
	install -m 0644 $(SSHCA) $(DESTDIR)$(LIBDIR)/hsmcache/hsmcache-sshca.so
	install -m 0644 $(PROV) $(DESTDIR)$(LIBDIR)/hsmcache/hsmcache-provider.so
	install -m 0755 $(CLI) $(DESTDIR)$(LIBDIR)/hsmcache/hsmcache
	install -m 0755 $(PDNSHSM) $(DESTDIR)$(LIBDIR)/hsmcache/pdns-hsm
	install -m 0755 $(AGENT) $(DESTDIR)$(LIBDIR)/hsmcache/hsmcached
	# The programs stay next to libhsmcache.so (RUNPATH $$ORIGIN, which
	# lintian accepts); the command directories hold links to them.
	ln -sf ../lib/$(notdir $(LIBDIR))/hsmcache/hsmcache $(DESTDIR)$(PREFIX)/bin/hsmcache
	ln -sf ../lib/$(notdir $(LIBDIR))/hsmcache/pdns-hsm $(DESTDIR)$(PREFIX)/bin/pdns-hsm
	ln -sf ../lib/$(notdir $(LIBDIR))/hsmcache/hsmcached $(DESTDIR)$(PREFIX)/sbin/hsmcached
	# p11-kit names: "hsmcache" is what PowerDNS rows name (Engine:), loaded
	# by pdns_server and pdnsutil only (p11-kit's enable-in matches the
	# program name), so GnuTLS tools, p11-kit-proxy and the like never
	# touch the HSM. "hsmcache-pkcs11", the generic front, is loaded by no
	# program through the registry (an empty enable-in): hosts name it by
	# path, or an /etc/pkcs11/modules/hsmcache-pkcs11.module with the
	# same "module:" line and their own enable-in takes its place.
	printf 'module: %s\nenable-in: pdns_server, pdnsutil\n' $(LIBDIR)/hsmcache/hsmcache-pdns.so \
	    > $(DESTDIR)$(PREFIX)/share/p11-kit/modules/hsmcache.module
	printf 'module: %s\nenable-in:\n' $(LIBDIR)/hsmcache/hsmcache-pkcs11.so \
	    > $(DESTDIR)$(PREFIX)/share/p11-kit/modules/hsmcache-pkcs11.module
	sed 's|^ExecStart=[^ ]*hsmcached |ExecStart=$(PREFIX)/sbin/hsmcached |' shared/agent/hsmcached.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/hsmcached.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/hsmcached.service
	install -m 0644 scripts/deb/hsmcache.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/hsmcache.conf
	install -m 0644 scripts/deb/hsmcache.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/hsmcache.conf
	for m in $(MAN_OUT); do gzip -9n < $$m > $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/}.gz; done
	[ -e $(DESTDIR)/etc/hsmcache/hsmcache.conf ] || \
	    install -m 0644 shared/hsmcache.conf.example $(DESTDIR)/etc/hsmcache/hsmcache.conf

# Man pages: scdoc sources in man/, built into $(BUILD)/man.
MAN_SRC := $(wildcard man/*.scd)
MAN_OUT := $(MAN_SRC:man/%.scd=$(BUILD)/man/%)
.PHONY: man deb
man: $(MAN_OUT)
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@

# A Debian package of `make install PREFIX=/usr` and scripts/deb's
# metadata, into $(BUILD)/ (scripts/deb/build.sh). It needs only what it
# ships, not the test programs `all` builds.
deb: $(LIB) $(FRONT) $(PDNS) $(PDNSHSM) $(SSHCA) $(PROV) $(CLI) $(AGENT) man
	sh scripts/deb/build.sh $(BUILD)

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz run

# The house style (.clang-format), applied in place to every C file;
# tests/integration/code_format.sh checks the same files.
FORMAT_SOURCES = $(shell find shared pdns-backend bind-keystore sshca-plugin tests \
                   -name '*.[ch]' -not -path '*/build*')
.PHONY: format
format:
	clang-format-19 -i $(FORMAT_SOURCES)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

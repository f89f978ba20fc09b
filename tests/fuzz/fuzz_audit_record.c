/* fuzz_audit_record.c: hsmcached's SSH CA audit record check
 * (shared/agent/audit_record.c) on arbitrary text. Nothing may crash or
 * leak; a record it accepts must come back as one line of printable
 * ASCII that it accepts again once the agent's three fields are taken
 * off, giving the same line (the canonical form is a fixed point). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/agent/audit_record.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* audit_record.c's authorization is not fuzzed here: the agent's rules
 * are not built. */
bool agent_key_allowed(const agent_rules_t *rules, hc_ctx_t *ctx, hc_obj_t obj,
                       const hc_token_status_t *st)
{
    (void)rules, (void)ctx, (void)obj, (void)st;
    return false;
}
const char *agent_rules_name(const agent_rules_t *rules)
{
    (void)rules;
    return "fuzz";
}

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    agent_audit_t *rec = NULL;
    hc_err_t err;
    if (agent_audit_parse(text, &rec, &err) == CKR_OK) {
        check(agent_audit_ca_key(rec) != NULL);
        char *line = agent_audit_line(rec, 1000, 42, "fuzz");
        check(line != NULL);
        for (const char *p = line; *p; p++)
            check(*p >= 0x20 && *p < 0x7f);
        /* Without the agent's fields, the line parses to the same record. */
        char *cut = strstr(line, ",\"peer_uid\":1000,\"peer_pid\":42,\"client\":\"fuzz\"}");
        check(cut != NULL && cut[strlen(cut) - 1] == '}' && cut[strlen(cut)] == '\0');
        strcpy(cut, "}");
        agent_audit_t *again = NULL;
        check(agent_audit_parse(line, &again, &err) == CKR_OK);
        char *line2 = agent_audit_line(again, 1000, 42, "fuzz");
        check(line2 != NULL);
        char *cut2 = strstr(line2, ",\"peer_uid\":1000");
        check(cut2 != NULL);
        strcpy(cut2, "}");
        check(strcmp(line, line2) == 0);
        free(line2);
        agent_audit_free(again);
        free(line);
    }
    agent_audit_free(rec);
    free(text);
    return 0;
}

/* test_watchdog.c: [token] timeout (watchdog.h, p11run.h) through the
 * checked layer (p11call.h), against a hand-built module whose calls block
 * while the test says so (a device that stops answering):
 *   - a timed call that does not answer in time returns CKR_DEVICE_REMOVED
 *     within the limit, with a message naming token, function and limit,
 *     one HSM error, and the token hung;
 *   - while hung every call fails at once (naming the call that hung), is
 *     not counted as an HSM error, and does not reach the module;
 *   - the call left behind is held (counted per watch and per module)
 *     until the module returns; then the token answers again;
 *   - a probe is started in the background while hung (no caller waits);
 *   - a watch released while a call is held is freed by that call, after
 *     it returns (AddressSanitizer sees any use after free);
 *   - a timed C_Sign and C_GetAttributeValue work on copies: what the
 *     module writes reaches the caller's buffers, never past them, even
 *     when it reports more than it was given;
 *   - a call that is not timed (C_Sign of a token that is no group member)
 *     runs on the caller's thread;
 *   - a C_Login that answers after the limit reports its answer to the
 *     report armed for it (login.c's PIN verdict), while the token still
 *     counts as hung; one answered in time only drops its report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/p11call.h"
#include "core/watchdog.h"

static int blocked;           /* the device hangs while set (atomic) */
static int calls;             /* calls that reached the module (atomic) */
static pthread_t sign_thread; /* the thread C_Sign last ran on */

static void hang_here(void)
{
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&blocked, __ATOMIC_ACQUIRE))
        usleep(1000);
}

static CK_RV m_slots(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *n)
{
    (void)present;
    hang_here();
    if (list && *n >= 1)
        list[0] = 7;
    *n = 1;
    return CKR_OK;
}

static CK_RV m_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    (void)slot;
    hang_here();
    memset(info, ' ', sizeof *info);
    memcpy(info->label, "dev", 3);
    return CKR_OK;
}

/* A signature of 8 bytes 0x5a, reported 64 bytes longer when asked. */
static CK_ULONG sign_extra;
static CK_RV m_sign(CK_SESSION_HANDLE s, CK_BYTE *d, CK_ULONG n, CK_BYTE *sig, CK_ULONG *len)
{
    (void)s, (void)d, (void)n;
    hang_here();
    sign_thread = pthread_self();
    if (sig && *len >= 8)
        memset(sig, 0x5a, 8);
    *len = 8 + sign_extra;
    return CKR_OK;
}

/* CKA_LABEL "abc", CKA_ID unknown to it. */
static CK_RV m_attrs(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t, CK_ULONG n)
{
    (void)s, (void)o;
    hang_here();
    CK_RV rv = CKR_OK;
    for (CK_ULONG i = 0; i < n; i++) {
        if (t[i].type != CKA_LABEL) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (!t[i].pValue) {
            t[i].ulValueLen = 3;
        } else if (t[i].ulValueLen < 3) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(t[i].pValue, "abc", 3);
            t[i].ulValueLen = 3;
        }
    }
    return rv;
}

/* C_Login answers login_rv (a PIN it takes or refuses), when it answers. */
static CK_RV login_rv;
static CK_RV m_login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR *pin, CK_ULONG n)
{
    (void)s, (void)u, (void)pin, (void)n;
    hang_here();
    return __atomic_load_n(&login_rv, __ATOMIC_ACQUIRE);
}

static CK_FUNCTION_LIST fl;
static const hc_logger_t quiet = { "test", -1 };
static uint64_t errors;
static hc_p11_t P;

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits up to 3 s for the module's held calls to come back. */
static void wait_unheld(void)
{
    for (int i = 0; i < 3000 && hc_watch_held_in(&fl); i++)
        usleep(1000);
    assert_int_equal(hc_watch_held_in(&fl), 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&fl, 0, sizeof fl);
    fl.version.major = 2;
    fl.C_GetSlotList = m_slots;
    fl.C_GetTokenInfo = m_token_info;
    fl.C_Sign = m_sign;
    fl.C_GetAttributeValue = m_attrs;
    fl.C_Login = m_login;
    login_rv = CKR_OK;
    blocked = calls = 0;
    errors = 0;
    sign_extra = 0;
    P = (hc_p11_t){ &fl, "tok", "/opt/slow.so", &quiet, &errors, hc_watch_new("tok", 100, &quiet) };
    assert_non_null(P.watch);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    wait_unheld();
    hc_watch_release(P.watch);
    return 0;
}

static void timeout_marks_hung_and_refuses_at_once(void **state)
{
    (void)state;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    hc_err_t err = { 0 };
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    uint64_t t0 = ms_now();
    assert_int_equal(hc_p11_get_slot_list(&P, CK_TRUE, slots, &n, &err), CKR_DEVICE_REMOVED);
    uint64_t took = ms_now() - t0;
    assert_true(took >= 100 && took < 1000);
    assert_non_null(strstr(err.msg, "token tok: C_GetSlotList did not answer "
                                    "within 100 ms ([token] timeout)"));
    assert_int_equal(n, 4); /* nothing of the held call was written back */
    assert_true(hc_p11_hung(&P));
    assert_int_equal(errors, 1);
    hc_watch_counts_t c;
    hc_watch_counts(P.watch, &c);
    assert_int_equal(c.timeouts, 1);
    assert_int_equal(c.held, 1);
    assert_int_equal(hc_watch_held_in(&fl), 1);

    /* Hung: a call fails at once and never reaches the module. */
    int before = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    CK_TOKEN_INFO ti;
    t0 = ms_now();
    assert_int_equal(hc_p11_get_token_info(&P, 7, &ti, &err), CKR_DEVICE_REMOVED);
    assert_true(ms_now() - t0 < 50);
    assert_non_null(strstr(err.msg, "token tok: C_GetTokenInfo not called: the "
                                    "token is hung (C_GetSlotList did not answer "
                                    "within 100 ms"));
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_RELAXED), before);
    assert_int_equal(errors, 1); /* a refusal is no HSM error */

    /* The device answers again: the held call returns, the token is back. */
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    wait_unheld();
    assert_false(hc_p11_hung(&P));
    n = 4;
    assert_int_equal(hc_p11_get_slot_list(&P, CK_TRUE, slots, &n, &err), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(slots[0], 7);
}

static void probe_in_background(void **state)
{
    (void)state;
    CK_TOKEN_INFO ti;
    hc_err_t err;
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    assert_int_equal(hc_p11_get_token_info(&P, 7, &ti, &err), CKR_DEVICE_REMOVED);
    usleep(1100 * 1000); /* the first probe is due 1 s after the hang */
    int before = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    uint64_t t0 = ms_now();
    assert_int_equal(hc_p11_get_token_info(&P, 7, &ti, &err), CKR_DEVICE_REMOVED);
    assert_true(ms_now() - t0 < 50); /* refused: the probe is nobody's wait */
    for (int i = 0; i < 1000 && __atomic_load_n(&calls, __ATOMIC_RELAXED) == before; i++)
        usleep(1000);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_RELAXED), before + 1);
    hc_watch_counts_t c;
    hc_watch_counts(P.watch, &c);
    assert_int_equal(c.held, 2); /* the call and the probe */
    assert_int_equal(c.timeouts, 1);
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    wait_unheld();
    assert_false(hc_p11_hung(&P));
}

static void released_while_held(void **state)
{
    (void)state;
    CK_TOKEN_INFO ti;
    hc_err_t err;
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    assert_int_equal(hc_p11_get_token_info(&P, 7, &ti, &err), CKR_DEVICE_REMOVED);
    hc_watch_release(P.watch); /* the owner goes; the held call keeps it */
    P.watch = hc_watch_new("tok", 100, &quiet);
    assert_non_null(P.watch);
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    wait_unheld(); /* the held call frees the released watch */
}

static void timed_sign_copies_within_buffers(void **state)
{
    (void)state;
    hc_watch_every_call(P.watch, true);
    unsigned char buf[16 + 8];
    memset(buf, 0xee, sizeof buf);
    CK_ULONG len = 16;
    hc_err_t err;
    assert_int_equal(hc_p11_sign(&P, 1, (const unsigned char *)"d", 1, buf, &len, &err), CKR_OK);
    assert_int_equal(len, 8);
    assert_false(pthread_equal(sign_thread, pthread_self())); /* on a runner */
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], 0x5a);
    assert_int_equal(buf[8], 0xee); /* not written past the signature */
    sign_extra = 64;                /* reports 72 bytes for a 16-byte buffer */
    memset(buf, 0xee, sizeof buf);
    len = 16;
    assert_int_equal(hc_p11_sign(&P, 1, (const unsigned char *)"d", 1, buf, &len, &err),
                     CKR_DEVICE_ERROR);
    assert_int_equal(len, 0);
    for (size_t i = 16; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xee); /* the canary after the buffer */

    char label[8] = "zzzzzzz";
    CK_ATTRIBUTE t[] = { { CKA_LABEL, label, sizeof label }, { CKA_ID, NULL, 0 } };
    assert_int_equal(hc_p11_get_attrs(&P, 1, 2, t, 2, &err), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(t[0].ulValueLen, 3);
    assert_memory_equal(label, "abczzzz", 8);
    assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void untimed_sign_on_the_callers_thread(void **state)
{
    (void)state;
    unsigned char buf[16];
    CK_ULONG len = sizeof buf;
    hc_err_t err;
    assert_int_equal(hc_p11_sign(&P, 1, (const unsigned char *)"d", 1, buf, &len, &err), CKR_OK);
    assert_true(pthread_equal(sign_thread, pthread_self()));
}

/* What the late-answer report saw (report() on the runner's thread). */
static int answered, dropped, answered_hung;
static CK_RV late_rv;
static void late(void *arg, CK_RV rv)
{
    __atomic_store_n(&late_rv, rv, __ATOMIC_RELAXED);
    __atomic_store_n(&answered_hung, hc_watch_hung(arg), __ATOMIC_RELAXED);
    __atomic_fetch_add(&answered, 1, __ATOMIC_RELEASE);
}
static void drop(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&dropped, 1, __ATOMIC_RELEASE);
}

/* A C_Login's answer is reported when it comes after the limit (while
 * the token still counts as hung, so no login is tried before the
 * verdict), never for one answered in time; a report no login took is
 * dropped once, by the next arming, a disarming or the watch's release. */
static void late_login_answer_reported(void **state)
{
    (void)state;
    hc_err_t err;
    answered = dropped = answered_hung = 0;
    hc_watch_report_t r = { late, drop, P.watch };
    hc_watch_report_login(P.watch, &r);
    assert_int_equal(hc_p11_login(&P, 1, CKU_USER, (const unsigned char *)"1234", 4, &err), CKR_OK);
    assert_int_equal(answered, 0);
    assert_int_equal(dropped, 1); /* answered in time: the caller judges */

    hc_watch_report_login(P.watch, &r);
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    assert_int_equal(hc_p11_login(&P, 1, CKU_USER, (const unsigned char *)"1234", 4, &err),
                     CKR_DEVICE_REMOVED);
    hc_watch_report_login(P.watch, NULL); /* taken by the job: nothing to drop */
    usleep(200 * 1000);
    assert_int_equal(__atomic_load_n(&answered, __ATOMIC_ACQUIRE), 0); /* no answer yet */
    assert_int_equal(dropped, 1);
    __atomic_store_n(&login_rv, CKR_PIN_INCORRECT, __ATOMIC_RELEASE);
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    wait_unheld();
    assert_int_equal(__atomic_load_n(&answered, __ATOMIC_ACQUIRE), 1);
    assert_int_equal(late_rv, CKR_PIN_INCORRECT);
    assert_int_equal(answered_hung, 1);
    assert_int_equal(__atomic_load_n(&dropped, __ATOMIC_ACQUIRE), 2);
    assert_false(hc_p11_hung(&P));

    /* Armed and never taken: dropped by the next arming, and by release. */
    hc_watch_report_login(P.watch, &r);
    hc_watch_report_login(P.watch, &r);
    assert_int_equal(dropped, 3);
    hc_watch_release(P.watch);
    assert_int_equal(dropped, 4);
    P.watch = hc_watch_new("tok", 100, &quiet);
    assert_int_equal(answered, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(timeout_marks_hung_and_refuses_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(probe_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(released_while_held, setup, teardown),
        cmocka_unit_test_setup_teardown(timed_sign_copies_within_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(untimed_sign_on_the_callers_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(late_login_answer_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

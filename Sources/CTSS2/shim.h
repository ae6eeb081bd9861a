#ifndef EDGEPROOF_CTSS2_SHIM_H
#define EDGEPROOF_CTSS2_SHIM_H
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

/* TPM2_RC_HANDLE is a macro built from another macro (TPM2_RC_FMT1 + 0x00B), which Swift does not import. */
static inline TSS2_RC CTSS2_RC_HANDLE(void) {
    return TPM2_RC_HANDLE;
}

/* Response codes and property tags built from other macros (TPM2_RC_WARN + 0x021, TPM2_PT_VAR + 14). */
static inline TSS2_RC CTSS2_RC_LOCKOUT(void) {
    return TPM2_RC_LOCKOUT;
}

static inline TSS2_RC CTSS2_RC_INITIALIZE(void) {
    return TPM2_RC_INITIALIZE;
}

static inline TPM2_PT CTSS2_PT_PERMANENT(void) {
    return TPM2_PT_PERMANENT;
}

static inline TPM2_PT CTSS2_PT_LOCKOUT_COUNTER(void) {
    return TPM2_PT_LOCKOUT_COUNTER;
}

static inline TPM2_PT CTSS2_PT_MAX_AUTH_FAIL(void) {
    return TPM2_PT_MAX_AUTH_FAIL;
}

static inline TPM2_PT CTSS2_PT_LOCKOUT_INTERVAL(void) {
    return TPM2_PT_LOCKOUT_INTERVAL;
}

static inline TPM2_PT CTSS2_PT_LOCKOUT_RECOVERY(void) {
    return TPM2_PT_LOCKOUT_RECOVERY;
}

#endif

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

#endif

#ifndef EDGEPROOF_COPENSSL_SHIM_H
#define EDGEPROOF_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* EVP_PKEY_CTX_set0_rsa_oaep_label takes ownership of the label (freed with OPENSSL_free), a macro Swift
   cannot call; this copies it with OPENSSL_memdup so the context owns its own bytes. */
static inline int COpenSSL_set_oaep_label(EVP_PKEY_CTX *ctx, const unsigned char *label, size_t length) {
    unsigned char *copy = OPENSSL_memdup(label, length);
    if (copy == NULL) {
        return 0;
    }
    int rc = EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)length);
    if (rc <= 0) {
        OPENSSL_free(copy);
    }
    return rc;
}
#endif

// Owning smart pointers for OpenSSL objects. This is the only file that names a *_free
// function: everything else owns OpenSSL pointers through these aliases, and hands ownership
// to OpenSSL with a visible .release() and a comment saying who takes it.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace ossl {

template <typename T, void (*function)(T*)>
struct FunctionDeleter {
  void operator()(T* pointer) const { function(pointer); }
};

template <typename T, void (*function)(T*)>
using DeleteFnPtr = std::unique_ptr<T, FunctionDeleter<T, function>>;

using SSLCtxPointer = DeleteFnPtr<SSL_CTX, SSL_CTX_free>;
using SSLPointer = DeleteFnPtr<SSL, SSL_free>;
using SSLSessionPointer = DeleteFnPtr<SSL_SESSION, SSL_SESSION_free>;
using BIOPointer = DeleteFnPtr<BIO, BIO_free_all>;
using X509Pointer = DeleteFnPtr<X509, X509_free>;
using EVPKeyPointer = DeleteFnPtr<EVP_PKEY, EVP_PKEY_free>;
using X509NamePointer = DeleteFnPtr<X509_NAME, X509_NAME_free>;
using X509ExtensionPointer = DeleteFnPtr<X509_EXTENSION, X509_EXTENSION_free>;
using BignumPointer = DeleteFnPtr<BIGNUM, BN_free>;
using ASN1TimePointer = DeleteFnPtr<ASN1_TIME, ASN1_TIME_free>;

// Memory OpenSSL allocated with OPENSSL_malloc and hands to the caller (get1 out-parameters).
// OPENSSL_free is a macro over CRYPTO_free(ptr, file, line), so it gets a deleter of its own.
struct OpenSSLFree {
  void operator()(void* pointer) const { OPENSSL_free(pointer); }
};
template <typename T>
using OpenSSLMallocPointer = std::unique_ptr<T, OpenSSLFree>;

}  // namespace ossl

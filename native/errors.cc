#include "errors.h"

#include <cctype>
#include <string>
#include <vector>

#include "addon.h"

namespace ossl {
namespace {

// Library names as node uses them in ERR_OSSL_<LIB>_<REASON> codes.
const char* LibraryName(int lib) {
  switch (lib) {
    case ERR_LIB_SYS: return "SYS";
    case ERR_LIB_BN: return "BN";
    case ERR_LIB_RSA: return "RSA";
    case ERR_LIB_DH: return "DH";
    case ERR_LIB_EVP: return "EVP";
    case ERR_LIB_BUF: return "BUF";
    case ERR_LIB_OBJ: return "OBJ";
    case ERR_LIB_PEM: return "PEM";
    case ERR_LIB_DSA: return "DSA";
    case ERR_LIB_X509: return "X509";
    case ERR_LIB_ASN1: return "ASN1";
    case ERR_LIB_CONF: return "CONF";
    case ERR_LIB_CRYPTO: return "CRYPTO";
    case ERR_LIB_EC: return "EC";
    case ERR_LIB_SSL: return "SSL";
    case ERR_LIB_BIO: return "BIO";
    case ERR_LIB_PKCS7: return "PKCS7";
    case ERR_LIB_X509V3: return "X509V3";
    case ERR_LIB_PKCS12: return "PKCS12";
    case ERR_LIB_RAND: return "RAND";
    case ERR_LIB_OCSP: return "OCSP";
    case ERR_LIB_UI: return "UI";
    case ERR_LIB_CMS: return "CMS";
    case ERR_LIB_OSSL_STORE: return "OSSL_STORE";
    case ERR_LIB_PROV: return "PROV";
    case ERR_LIB_OSSL_DECODER: return "OSSL_DECODER";
    case ERR_LIB_OSSL_ENCODER: return "OSSL_ENCODER";
    default: return nullptr;
  }
}

std::string ToCodeToken(const char* text) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    out.push_back(std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_');
  }
  return out;
}

std::string ErrorString(unsigned long err) {
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  return buf;
}

}  // namespace

Napi::Error MakeOpenSSLError(Napi::Env env, const char* fallback) {
  // Node's convention: the message is the oldest queued error (the root cause); every other
  // entry goes to opensslErrorStack.
  unsigned long first = ERR_get_error();
  std::vector<std::string> stack;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    stack.push_back(ErrorString(e));
  }

  std::string message = first != 0 ? ErrorString(first) : std::string(fallback);
  Addon* addon = Addon::Get(env);
  Napi::Object error;
  if (addon != nullptr && !addon->errorClass.IsEmpty()) {
    error = addon->errorClass.New({Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
  }

  if (first != 0) {
    const char* lib = LibraryName(ERR_GET_LIB(first));
    const char* reason = ERR_reason_error_string(first);
    std::string reasonToken = reason != nullptr ? ToCodeToken(reason) : "UNKNOWN";
    std::string code = lib != nullptr && std::string(lib) == "SSL"
                           ? "ERR_SSL_" + reasonToken
                           : "ERR_OSSL_" + std::string(lib != nullptr ? lib : "UNKNOWN") + "_" +
                                 reasonToken;
    const char* libString = ERR_lib_error_string(first);
    error.Set("code", code);
    error.Set("library", libString != nullptr ? libString : "");
    error.Set("reason", reason != nullptr ? reason : "");
  } else {
    error.Set("code", "ERR_OSSL_NO_ERROR_QUEUED");
    error.Set("library", "");
    error.Set("reason", fallback);
  }
  Napi::Array jsStack = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) jsStack.Set(static_cast<uint32_t>(i), stack[i]);
  error.Set("opensslErrorStack", jsStack);
  return Napi::Error(env, error);
}

Napi::Error MakeCodedTypeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", code);
  return error;
}

}  // namespace ossl

#include "certificates.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "errors.h"

namespace ossl {

std::vector<X509Pointer> ParseCertificates(Napi::Env env, const std::string& pem) {
  BIOPointer bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Pointer> certs;
  while (bio) {
    X509Pointer cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) ThrowOpenSSLError(env, "no PEM certificate found");
  ERR_clear_error();  // the loop ends on a "no start line" error once the text is consumed
  return certs;
}

namespace {

// PEM password callback: the given passphrase, or failure. Never OpenSSL's default, which
// prompts on the terminal and would block the process.
int PassphraseCallback(char* buf, int size, int rwflag, void* u) {
  if (u == nullptr) return -1;
  const std::string& passphrase = *static_cast<const std::string*>(u);
  if (passphrase.size() > static_cast<size_t>(size)) return -1;
  passphrase.copy(buf, passphrase.size());
  return static_cast<int>(passphrase.size());
}

}  // namespace

EVPKeyPointer ParsePrivateKey(Napi::Env env, const std::string& pem, const std::string* passphrase) {
  BIOPointer bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  void* u = const_cast<std::string*>(passphrase);
  EVPKeyPointer key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, &PassphraseCallback, u) : nullptr);
  if (!key) {
    ThrowOpenSSLError(env, passphrase == nullptr ? "no PEM private key found (an encrypted key needs a passphrase)"
                                                 : "no PEM private key found, or wrong passphrase");
  }
  return key;
}

Napi::Value CertificateToDER(Napi::Env env, X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) ThrowOpenSSLError(env, "i2d_X509 failed");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(len));
  unsigned char* p = out.Data();
  i2d_X509(cert, &p);
  return out;
}

namespace {

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

void AddExtension(Napi::Env env, X509* cert, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509ExtensionPointer ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) ThrowOpenSSLError(env, "X509_add_ext failed");
}

}  // namespace

Napi::Value CreateSelfSigned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  Napi::Object opts = info[0].As<Napi::Object>();
  std::string cn = opts.Get("commonName").As<Napi::String>().Utf8Value();
  std::string altNames = opts.Get("altNames").As<Napi::String>().Utf8Value();
  int days = opts.Get("days").As<Napi::Number>().Int32Value();
  std::string keyType = opts.Get("keyType").As<Napi::String>().Utf8Value();
  int bits = opts.Get("bits").As<Napi::Number>().Int32Value();

  EVPKeyPointer key(keyType == "rsa" ? EVP_RSA_gen(static_cast<unsigned int>(bits))
                                     : EVP_EC_gen("P-256"));
  if (!key) ThrowOpenSSLError(env, "key generation failed");

  X509Pointer cert(X509_new());
  if (!cert) ThrowOpenSSLError(env, "X509_new failed");
  X509_set_version(cert.get(), X509_VERSION_3);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  BignumPointer bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr)
    ThrowOpenSSLError(env, "serial number failed");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());  // owned by cert
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (!altNames.empty()) AddExtension(env, cert.get(), NID_subject_alt_name, altNames);
  AddExtension(env, cert.get(), NID_subject_key_identifier, "hash");
  AddExtension(env, cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) ThrowOpenSSLError(env, "X509_sign failed");

  BIOPointer certBio(BIO_new(BIO_s_mem()));
  BIOPointer keyBio(BIO_new(BIO_s_mem()));
  if (!certBio || !keyBio || PEM_write_bio_X509(certBio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ThrowOpenSSLError(env, "PEM encoding failed");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("cert", BioToString(certBio.get()));
  result.Set("key", BioToString(keyBio.get()));
  return result;
}

}  // namespace ossl

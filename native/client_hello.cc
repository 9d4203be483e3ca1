#include "client_hello.h"

#include <openssl/crypto.h>
#include <openssl/tls1.h>

#include <string>

#include "openssl_ptr.h"

namespace ossl {
namespace {

// A bounds-checked reader over one extension body (RFC 8446 presentation language: big
// endian integers, length-prefixed vectors).
class Reader {
 public:
  Reader(const unsigned char* data, size_t len) : p_(data), end_(data + len) {}
  bool U8(unsigned int* out) {
    if (end_ - p_ < 1) return false;
    *out = *p_++;
    return true;
  }
  bool U16(unsigned int* out) {
    if (end_ - p_ < 2) return false;
    *out = (static_cast<unsigned int>(p_[0]) << 8) | p_[1];
    p_ += 2;
    return true;
  }
  bool Skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  // A sub-reader over the next n bytes.
  bool Sub(size_t n, Reader* out) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    *out = Reader(p_, n);
    p_ += n;
    return true;
  }
  const unsigned char* Here() const { return p_; }
  bool Empty() const { return p_ == end_; }

 private:
  const unsigned char* p_;
  const unsigned char* end_;
};

// pre_shared_key (RFC 8446 4.2.11): identities<7..2^16-1> of { opaque identity<1..2^16-1>;
// uint32 obfuscated_ticket_age; }, then the binders (not needed here).
Napi::Array PskIdentities(Napi::Env env, SSL* ssl) {
  Napi::Array out = Napi::Array::New(env);
  const unsigned char* data = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &data, &len) != 1) return out;
  Reader ext(data, len);
  unsigned int listLen = 0;
  Reader list(nullptr, 0);
  if (!ext.U16(&listLen) || !ext.Sub(listLen, &list)) return out;
  uint32_t index = 0;
  while (!list.Empty()) {
    unsigned int idLen = 0;
    const unsigned char* id = nullptr;
    if (!list.U16(&idLen)) break;
    id = list.Here();
    if (idLen == 0 || !list.Skip(idLen) || !list.Skip(4)) break;  // identity, ticket age
    out.Set(index++, Napi::Buffer<uint8_t>::Copy(env, id, idLen));
  }
  return out;
}

// supported_versions (RFC 8446 4.2.1), ClientHello form: versions<2..254>.
Napi::Array SupportedVersions(Napi::Env env, SSL* ssl) {
  Napi::Array out = Napi::Array::New(env);
  const unsigned char* data = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &data, &len) != 1) return out;
  Reader ext(data, len);
  unsigned int listLen = 0;
  Reader list(nullptr, 0);
  if (!ext.U8(&listLen) || !ext.Sub(listLen, &list)) return out;
  uint32_t index = 0;
  unsigned int version = 0;
  while (list.U16(&version)) out.Set(index++, Napi::Number::New(env, version));
  return out;
}

// server_name (RFC 6066 3): server_name_list<1..2^16-1> of { NameType; HostName<1..2^16-1> }.
// SSL_get_servername() is not set yet when the client hello callback runs.
Napi::Value ServerName(Napi::Env env, SSL* ssl) {
  const unsigned char* data = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &data, &len) != 1) return env.Null();
  Reader ext(data, len);
  unsigned int listLen = 0;
  Reader list(nullptr, 0);
  if (!ext.U16(&listLen) || !ext.Sub(listLen, &list)) return env.Null();
  unsigned int type = 0;
  unsigned int nameLen = 0;
  while (list.U8(&type) && list.U16(&nameLen)) {
    const unsigned char* name = list.Here();
    if (!list.Skip(nameLen)) break;
    if (type == TLSEXT_NAMETYPE_host_name && nameLen > 0) {
      return Napi::String::New(env, std::string(reinterpret_cast<const char*>(name), nameLen));
    }
  }
  return env.Null();
}

}  // namespace

Napi::Object ReadClientHello(Napi::Env env, SSL* ssl) {
  Napi::Object info = Napi::Object::New(env);
  const unsigned char* sid = nullptr;
  size_t sidLen = SSL_client_hello_get0_session_id(ssl, &sid);
  info.Set("sessionId", Napi::Buffer<uint8_t>::Copy(env, sid, sid != nullptr ? sidLen : 0));
  info.Set("pskIdentities", PskIdentities(env, ssl));
  // session_ticket (RFC 5077): an empty extension asks for a ticket, a non-empty one offers one.
  const unsigned char* ticket = nullptr;
  size_t ticketLen = 0;
  bool hasTicket = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &ticket, &ticketLen) == 1 && ticketLen > 0;
  info.Set("hasTicket", Napi::Boolean::New(env, hasTicket));
  info.Set("supportedVersions", SupportedVersions(env, ssl));
  info.Set("servername", ServerName(env, ssl));
  // Every extension type present, in the order the client sent them (get1: the array is ours).
  int* rawTypes = nullptr;
  size_t count = 0;
  if (SSL_client_hello_get1_extensions_present(ssl, &rawTypes, &count) != 1) count = 0;
  OpenSSLMallocPointer<int> types(rawTypes);
  Napi::Array extensions = Napi::Array::New(env);
  for (size_t i = 0; i < count; ++i) extensions.Set(static_cast<uint32_t>(i), Napi::Number::New(env, types.get()[i]));
  info.Set("extensions", extensions);
  return info;
}

}  // namespace ossl

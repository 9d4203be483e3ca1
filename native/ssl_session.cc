#include "ssl_session.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <limits>

#include "errors.h"

namespace ossl {
namespace {

// Type tag (better-sqlite3 style): unwrap only objects this addon wrapped as sessions.
constexpr napi_type_tag kSessionTag = {0x6f70656e73736c31ULL, 0x53736c53657373ULL};

Napi::Value BytesOrNull(Napi::Env env, const unsigned char* data, size_t len) {
  if (data == nullptr) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, data, len);
}

}  // namespace

Napi::Function SslSession::Init(Napi::Env env, Addon* addon) {
  Napi::Function ctor = DefineClass(
      env, "SslSession",
      {
          StaticMethod<&SslSession::FromDER>("fromDER"),
          StaticMethod<&SslSession::FromPEM>("fromPEM"),
          InstanceMethod<&SslSession::ToDER>("toDER"),
          InstanceMethod<&SslSession::ToPEM>("toPEM"),
          InstanceMethod<&SslSession::GetId>("getId"),
          InstanceMethod<&SslSession::Get0IdContext>("get0IdContext"),
          InstanceMethod<&SslSession::GetProtocolVersion>("getProtocolVersion"),
          InstanceMethod<&SslSession::Get0Cipher>("get0Cipher"),
          InstanceMethod<&SslSession::GetTime>("getTime"),
          InstanceMethod<&SslSession::SetTime>("setTime"),
          InstanceMethod<&SslSession::GetTimeout>("getTimeout"),
          InstanceMethod<&SslSession::SetTimeout>("setTimeout"),
          InstanceMethod<&SslSession::HasTicket>("hasTicket"),
          InstanceMethod<&SslSession::Get0Ticket>("get0Ticket"),
          InstanceMethod<&SslSession::GetTicketLifetimeHint>("getTicketLifetimeHint"),
          InstanceMethod<&SslSession::IsResumable>("isResumable"),
          InstanceMethod<&SslSession::GetMaxEarlyData>("getMaxEarlyData"),
          InstanceMethod<&SslSession::Get0Hostname>("get0Hostname"),
          InstanceMethod<&SslSession::Get0AlpnSelected>("get0AlpnSelected"),
          InstanceMethod<&SslSession::Get0Peer>("get0Peer"),
          InstanceMethod<&SslSession::ReadCacheMeta>("readCacheMeta"),
          InstanceMethod<&SslSession::UpRef>("upRef"),
          InstanceMethod<&SslSession::Dup>("dup"),
          InstanceMethod<&SslSession::IsSame>("isSame"),
          InstanceMethod<&SslSession::Dispose>("dispose"),
      });
  // napi_define_class guards instance METHODS with a V8 signature (a foreign `this` throws
  // "Illegal invocation") but not ACCESSORS: an InstanceAccessor called on another wrapped
  // object (e.g. Reflect.get(SslSession.prototype, 'disposed', someContext)) would unwrap
  // that object as an SslSession. So `disposed` is a plain getter that checks the type tag.
  ctor.Get("prototype").As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Accessor<&SslSession::Disposed>("disposed"));
  addon->sessionConstructor = Napi::Persistent(ctor);
  return ctor;
}

SslSession::SslSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SslSession>(info) {
  Addon* addon = Addon::Get(info.Env());
  if (addon->pendingSession == nullptr) {
    ThrowCodedTypeError(info.Env(), "ERR_ILLEGAL_CONSTRUCTOR",
                        "SslSession cannot be constructed directly: use SslSession.fromDER(), "
                        "SslSession.fromPEM() or SslConnection.get1Session()");
  }
  // Take over the reference Adopt() is handing off (see Adopt).
  session_.reset(addon->pendingSession);
  addon->pendingSession = nullptr;
  info.This().As<Napi::Object>().TypeTag(&kSessionTag);
}

Napi::Object SslSession::Adopt(Napi::Env env, SSLSessionPointer session) {
  Addon* addon = Addon::Get(env);
  // The constructor consumes pendingSession; if it never runs (or throws first), the slot is
  // still set and `session` keeps ownership, so the reference is freed exactly once.
  addon->pendingSession = session.get();
  struct ResetSlot {
    Addon* addon;
    SSLSessionPointer* owner;
    ~ResetSlot() {
      if (addon->pendingSession == nullptr) {
        (void)owner->release();  // the JS object owns it now
      }
      addon->pendingSession = nullptr;
    }
  } resetSlot{addon, &session};
  Napi::FunctionReference& ctor =
      addon->sessionClass.IsEmpty() ? addon->sessionConstructor : addon->sessionClass;
  return ctor.New({});
}

SslSession* SslSession::FromValue(Napi::Value value, const char* param) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kSessionTag)) {
    ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE",
                        std::string("The \"") + param + "\" argument must be an SslSession");
  }
  SslSession* session = ObjectWrap<SslSession>::Unwrap(value.As<Napi::Object>());
  session->Get(env);  // throws if disposed
  return session;
}

SSL_SESSION* SslSession::Get(Napi::Env env) const {
  if (!session_) {
    ThrowCodedTypeError(env, "ERR_SESSION_DISPOSED", "SslSession was disposed");
  }
  return session_.get();
}

Napi::Value SslSession::FromDER(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  if (!info[0].IsTypedArray()) {
    ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"der\" argument must be a Uint8Array");
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  const unsigned char* p = bytes.Data();
  SSLSessionPointer session(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(bytes.ByteLength())));
  if (!session) ThrowOpenSSLError(env, "not a DER-encoded SSL_SESSION");
  return Adopt(env, std::move(session));
}

Napi::Value SslSession::FromPEM(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  if (!info[0].IsString()) {
    ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"pem\" argument must be a string");
  }
  std::string pem = info[0].As<Napi::String>().Utf8Value();
  BIOPointer bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) ThrowOpenSSLError(env, "out of memory");
  SSLSessionPointer session(PEM_read_bio_SSL_SESSION(bio.get(), nullptr, nullptr, nullptr));
  if (!session) ThrowOpenSSLError(env, "not a PEM SSL SESSION PARAMETERS block");
  return Adopt(env, std::move(session));
}

Napi::Value SslSession::ToDER(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_SESSION* s = Get(env);
  int len = i2d_SSL_SESSION(s, nullptr);
  if (len <= 0) ThrowOpenSSLError(env, "i2d_SSL_SESSION failed");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(len));
  unsigned char* p = out.Data();
  if (i2d_SSL_SESSION(s, &p) != len) ThrowOpenSSLError(env, "i2d_SSL_SESSION failed");
  return out;
}

Napi::Value SslSession::ToPEM(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_SESSION* s = Get(env);
  BIOPointer bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_SSL_SESSION(bio.get(), s) != 1) {
    ThrowOpenSSLError(env, "PEM_write_bio_SSL_SESSION failed");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return Napi::String::New(env, data, static_cast<size_t>(len));
}

Napi::Value SslSession::GetId(const Napi::CallbackInfo& info) {
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(Get(info.Env()), &len);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), id, len);
}

Napi::Value SslSession::Get0IdContext(const Napi::CallbackInfo& info) {
  unsigned int len = 0;
  const unsigned char* ctx = SSL_SESSION_get0_id_context(Get(info.Env()), &len);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), ctx, len);
}

Napi::Value SslSession::GetProtocolVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_SESSION_get_protocol_version(Get(info.Env())));
}

Napi::Value SslSession::Get0Cipher(const Napi::CallbackInfo& info) {
  const SSL_CIPHER* cipher = SSL_SESSION_get0_cipher(Get(info.Env()));
  if (cipher == nullptr) return info.Env().Null();
  return Napi::String::New(info.Env(), SSL_CIPHER_get_name(cipher));
}

Napi::Value SslSession::GetTime(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_SESSION_get_time(Get(info.Env()))));
}

namespace {
// SSL_SESSION_set_time/_set_timeout return 0 on failure (else the value set). They fail
// for a session in a cache whose lock is held: inside an onRemoveSession callback.
void ThrowIfNotSet(Napi::Env env, long result, long value) {
  if (result == 0 && value != 0) {
    ThrowCodedTypeError(env, "ERR_SESSION_BUSY",
                        "cannot change a cached session's time inside an onRemoveSession callback "
                        "(OpenSSL holds the cache lock there)");
  }
}
}  // namespace

Napi::Value SslSession::SetTime(const Napi::CallbackInfo& info) {
  SSL_SESSION* s = Get(info.Env());
  long t = static_cast<long>(info[0].As<Napi::Number>().Int64Value());
  ThrowIfNotSet(info.Env(), SSL_SESSION_set_time(s, t), t);
  return info.Env().Undefined();
}

Napi::Value SslSession::GetTimeout(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           static_cast<double>(SSL_SESSION_get_timeout(Get(info.Env()))));
}

Napi::Value SslSession::SetTimeout(const Napi::CallbackInfo& info) {
  SSL_SESSION* s = Get(info.Env());
  long t = static_cast<long>(info[0].As<Napi::Number>().Int64Value());
  ThrowIfNotSet(info.Env(), SSL_SESSION_set_timeout(s, t), t);
  return info.Env().Undefined();
}

Napi::Value SslSession::HasTicket(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SSL_SESSION_has_ticket(Get(info.Env())) == 1);
}

Napi::Value SslSession::Get0Ticket(const Napi::CallbackInfo& info) {
  const unsigned char* tick = nullptr;
  size_t len = 0;
  SSL_SESSION_get0_ticket(Get(info.Env()), &tick, &len);
  return BytesOrNull(info.Env(), tick, len);
}

Napi::Value SslSession::GetTicketLifetimeHint(const Napi::CallbackInfo& info) {
  return Napi::Number::New(
      info.Env(), static_cast<double>(SSL_SESSION_get_ticket_lifetime_hint(Get(info.Env()))));
}

Napi::Value SslSession::IsResumable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SSL_SESSION_is_resumable(Get(info.Env())) == 1);
}

Napi::Value SslSession::GetMaxEarlyData(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_SESSION_get_max_early_data(Get(info.Env())));
}

Napi::Value SslSession::Get0Hostname(const Napi::CallbackInfo& info) {
  const char* host = SSL_SESSION_get0_hostname(Get(info.Env()));
  if (host == nullptr) return info.Env().Null();
  return Napi::String::New(info.Env(), host);
}

Napi::Value SslSession::Get0AlpnSelected(const Napi::CallbackInfo& info) {
  const unsigned char* alpn = nullptr;
  size_t len = 0;
  SSL_SESSION_get0_alpn_selected(Get(info.Env()), &alpn, &len);
  if (alpn == nullptr || len == 0) return info.Env().Null();
  return Napi::String::New(info.Env(), reinterpret_cast<const char*>(alpn), len);
}

// What a session cache reads once per stored session, in one call and without copying the
// peer certificate out (get0Peer + an X509 parse in JS cost ~5 µs per set()): fills `out`
// (a Float64Array of kCacheMetaLength) with protocol version, time, timeout, ticket lifetime
// hint, has ticket (0/1), resumable (0/1), and the peer certificate's notAfter in ms since the
// epoch (NaN without a peer certificate or when it cannot be read).
Napi::Value SslSession::ReadCacheMeta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_SESSION* s = Get(env);
  constexpr size_t kCacheMetaLength = 7;
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::TypedArray>().ElementLength() < kCacheMetaLength) {
    ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"out\" argument must be a Float64Array of at least 7 elements");
  }
  double* out = info[0].As<Napi::Float64Array>().Data();
  out[0] = SSL_SESSION_get_protocol_version(s);
  out[1] = static_cast<double>(SSL_SESSION_get_time(s));
  out[2] = static_cast<double>(SSL_SESSION_get_timeout(s));
  out[3] = static_cast<double>(SSL_SESSION_get_ticket_lifetime_hint(s));
  out[4] = SSL_SESSION_has_ticket(s) == 1 ? 1 : 0;
  out[5] = SSL_SESSION_is_resumable(s) == 1 ? 1 : 0;
  out[6] = std::numeric_limits<double>::quiet_NaN();
  X509* peer = SSL_SESSION_get0_peer(s);  // borrowed from the session
  const ASN1_TIME* notAfter = peer != nullptr ? X509_get0_notAfter(peer) : nullptr;
  // The epoch as an ASN1_TIME, made once (read-only afterwards; C++ makes the init thread-safe).
  static const ASN1TimePointer epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (notAfter != nullptr && epoch && ASN1_TIME_diff(&days, &seconds, epoch.get(), notAfter) == 1) {
    out[6] = (static_cast<double>(days) * 86400 + seconds) * 1000;
  }
  return env.Undefined();
}

Napi::Value SslSession::Get0Peer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  X509* peer = SSL_SESSION_get0_peer(Get(env));  // borrowed from the session
  if (peer == nullptr) return env.Null();
  int len = i2d_X509(peer, nullptr);
  if (len <= 0) ThrowOpenSSLError(env, "i2d_X509 failed");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(len));
  unsigned char* p = out.Data();
  i2d_X509(peer, &p);
  return out;
}

Napi::Value SslSession::UpRef(const Napi::CallbackInfo& info) {
  SSL_SESSION* s = Get(info.Env());
  SSL_SESSION_up_ref(s);  // the new handle owns this extra reference
  return Adopt(info.Env(), SSLSessionPointer(s));
}

Napi::Value SslSession::Dup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSLSessionPointer copy(SSL_SESSION_dup(Get(env)));
  if (!copy) ThrowOpenSSLError(env, "SSL_SESSION_dup failed");
  return Adopt(env, std::move(copy));
}

Napi::Value SslSession::IsSame(const Napi::CallbackInfo& info) {
  SslSession* other = FromValue(info[0], "other");
  return Napi::Boolean::New(info.Env(), other->Get(info.Env()) == Get(info.Env()));
}

Napi::Value SslSession::Dispose(const Napi::CallbackInfo& info) {
  Get(info.Env());  // a second dispose() is a use after dispose: TypeError
  session_.reset();
  return info.Env().Undefined();
}

Napi::Value SslSession::Disposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value self = info.This();
  if (!self.IsObject() || !self.As<Napi::Object>().CheckTypeTag(&kSessionTag)) {
    ThrowCodedTypeError(env, "ERR_INVALID_THIS", "The \"this\" value must be an SslSession");
  }
  return Napi::Boolean::New(env, !Unwrap(self.As<Napi::Object>())->session_);
}

}  // namespace ossl

// SslContext's session cache controls: SSL_CTX_set_session_id_context, timeout, cache mode and
// size, TLS 1.3 ticket count, flush, add/remove, the 12 statistics, which session callbacks are
// set (the callbacks themselves: ssl_context_callbacks.cc), and the guard that keeps one
// SSL_SESSION out of two contexts' caches.
#include "errors.h"
#include "ssl_context.h"
#include "ssl_session.h"

namespace ossl {

// ----- Which SSL_CTX caches hold a session ------------------------------------------------
// OpenSSL links a cached SSL_SESSION into ONE context's expiry list through the session's own
// prev/next/owner fields. SSL_CTX_add_session(B, s) while s is still linked into A's list
// (a session A cached, handed to JS by onNewSession or get1Session) unlinks it with B's list
// heads and corrupts A's list: A's next flush or SSL_CTX_free frees a session twice. So before
// a session reaches SSL_CTX_add_session (addSession(), or an onGetSession result OpenSSL will
// add) we check every other live context of this environment (SSL_CTX_sessions +
// OPENSSL_LH_retrieve on it, compared by identity: same thread, so no lock is needed) and add a
// copy (SSL_SESSION_dup) instead. Closed contexts keep an empty cache (Close() sets
// NO_INTERNAL_STORE), so only live ones need checking. The set is per environment (Addon),
// so a worker never looks at another thread's contexts.
bool SslContext::CachedElsewhere(SSL_SESSION* session) const {
  for (SslContext* other : addon_->contexts) {
    if (other == this || !other->ctx_) continue;
    LHASH_OF(SSL_SESSION)* sessions = SSL_CTX_sessions(other->ctx_.get());
    // lh_SSL_SESSION_retrieve is not public API in 3.0; the typed wrapper is this call.
    if (sessions != nullptr &&
        OPENSSL_LH_retrieve(reinterpret_cast<OPENSSL_LHASH*>(sessions), session) == session)
      return true;
  }
  return false;
}

// ----- session cache -------------------------------------------------------------------

Napi::Value SslContext::SetSessionIdContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  Napi::Uint8Array sid = info[0].As<Napi::Uint8Array>();
  if (sid.ByteLength() > SSL_MAX_SID_CTX_LENGTH) {  // re-checked here: OpenSSL copies into a fixed array
    throw Napi::RangeError::New(env, "session id context is longer than 32 bytes");
  }
  if (SSL_CTX_set_session_id_context(Get(env), sid.Data(), static_cast<unsigned int>(sid.ByteLength())) != 1)
    ThrowOpenSSLError(env, "SSL_CTX_set_session_id_context failed");
  return env.Undefined();
}

Napi::Value SslContext::SetTimeout(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_set_timeout(Get(info.Env()), LongArg(info, 0))));
}

Napi::Value SslContext::GetTimeout(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_get_timeout(Get(info.Env()))));
}

Napi::Value SslContext::SetSessionCacheMode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_set_session_cache_mode(Get(info.Env()), LongArg(info, 0)));
}

Napi::Value SslContext::GetSessionCacheMode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_get_session_cache_mode(Get(info.Env())));
}

Napi::Value SslContext::SetSessionCacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_sess_set_cache_size(Get(info.Env()), LongArg(info, 0)));
}

Napi::Value SslContext::GetSessionCacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_sess_get_cache_size(Get(info.Env())));
}

Napi::Value SslContext::SetNumTickets(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (SSL_CTX_set_num_tickets(Get(info.Env()), static_cast<size_t>(LongArg(info, 0))) != 1)
    ThrowOpenSSLError(info.Env(), "SSL_CTX_set_num_tickets failed");
  return info.Env().Undefined();
}

Napi::Value SslContext::GetNumTickets(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_get_num_tickets(Get(info.Env()))));
}

Napi::Value SslContext::FlushSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, "flushSessions()");
  SSL_CTX_flush_sessions(Get(env), LongArg(info, 0));
  scope.RethrowPending();
  return env.Undefined();
}

Napi::Value SslContext::AddSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, "addSession()");
  SSL_CTX* ctx = Get(env);
  SSL_SESSION* session = SslSession::FromValue(info[0], "session")->Get(env);
  // The cache takes a reference of its own; the JS handle keeps its own. A session linked
  // into another context's cache is added as a copy (see CachedElsewhere).
  SSLSessionPointer copy;
  if (CachedElsewhere(session)) {
    // Already have an entry with this id (an earlier copy)? Re-add that one: a no-op
    // returning 0 (as for the same object), which still refreshes it under UPDATE_TIME.
    auto* existing = static_cast<SSL_SESSION*>(
        OPENSSL_LH_retrieve(reinterpret_cast<OPENSSL_LHASH*>(SSL_CTX_sessions(ctx)), session));
    if (existing != nullptr) {
      session = existing;
    } else {
      copy.reset(SSL_SESSION_dup(session));
      if (!copy) ThrowOpenSSLError(env, "SSL_SESSION_dup failed");
      session = copy.get();
    }
  }
  int added = SSL_CTX_add_session(ctx, session);
  scope.RethrowPending();
  return Napi::Boolean::New(env, added == 1);
}

Napi::Value SslContext::RemoveSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, "removeSession()");
  SSL_CTX* ctx = Get(env);
  int removed = SSL_CTX_remove_session(ctx, SslSession::FromValue(info[0], "session")->Get(env));
  scope.RethrowPending();
  return Napi::Boolean::New(env, removed == 1);
}

Napi::Value SslContext::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  Napi::Object s = Napi::Object::New(env);
  s.Set("number", SSL_CTX_sess_number(ctx));
  s.Set("connect", SSL_CTX_sess_connect(ctx));
  s.Set("connectGood", SSL_CTX_sess_connect_good(ctx));
  s.Set("connectRenegotiate", SSL_CTX_sess_connect_renegotiate(ctx));
  s.Set("accept", SSL_CTX_sess_accept(ctx));
  s.Set("acceptGood", SSL_CTX_sess_accept_good(ctx));
  s.Set("acceptRenegotiate", SSL_CTX_sess_accept_renegotiate(ctx));
  s.Set("hits", SSL_CTX_sess_hits(ctx));
  s.Set("cbHits", SSL_CTX_sess_cb_hits(ctx));
  s.Set("misses", SSL_CTX_sess_misses(ctx));
  s.Set("timeouts", SSL_CTX_sess_timeouts(ctx));
  s.Set("cacheFull", SSL_CTX_sess_cache_full(ctx));
  return s;
}

Napi::Value SslContext::SessNewCb(const Napi::CallbackInfo& info) {
  Get(info.Env());
  hasNewCb_ = SetCallbackSlot(info, "newSession");
  return info.Env().Undefined();
}

Napi::Value SslContext::SessRemoveCb(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  hasRemoveCb_ = SetCallbackSlot(info, "removeSession");
  // Installed only while JS listens: its presence changes what OpenSSL stores (TLS 1.3
  // servers add stateless-ticket sessions to the internal cache when a remove_cb is set).
  SSL_CTX_sess_set_remove_cb(ctx, hasRemoveCb_ ? &SslContext::OnRemoveSession : nullptr);
  return info.Env().Undefined();
}

Napi::Value SslContext::SessGetCb(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  hasGetCb_ = SetCallbackSlot(info, "getSession");
  SSL_CTX_sess_set_get_cb(ctx, hasGetCb_ ? &SslContext::OnGetSession : nullptr);
  return info.Env().Undefined();
}

bool SslContext::SetCallbackSlot(const Napi::CallbackInfo& info, const char* name) {
  bool set = info[0].IsFunction();
  slots::Set(info.Env(), Value(), name, set ? info[0] : info.Env().Undefined());
  return set;
}

}  // namespace ossl

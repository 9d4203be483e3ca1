#include "client_hello.h"
#include "errors.h"
#include "ssl_connection.h"
#include "ssl_context.h"
#include "ssl_session.h"
#include "ticket_keys.h"

// ---------------------------------------------------------------------------------------
// Reference-ownership contract of the session callbacks (tested in test/ssl-context.*).
// Line references are to OpenSSL 3.0's ssl/ssl_lib.c and ssl/ssl_sess.c.
//
//  new_session_cb  ssl_update_cache() up-refs s->session before calling us; returning 1
//                  gives that reference to us, returning 0 makes OpenSSL free it. We return
//                  1 once we wrapped it: a JS SslSession ADOPTS that reference (or, if
//                  wrapping failed, our SSLSessionPointer freed it). JS may keep the session
//                  as long as it likes; if it does not, GC frees it once. When no JS listener
//                  is set we return 0 and OpenSSL drops the reference itself.
//  remove_cb       OpenSSL LENDS the session for the call (remove_session_lock() and
//                  SSL_CTX_flush_sessions() drop the cache's reference only after the
//                  callback returns). JS gets its own: we up-ref and a JS SslSession adopts it.
//  get_session_cb  JS returns an SslSession (or null). Its handle keeps its own reference;
//                  we return the borrowed pointer with *copy = 1, so lookup_sess_in_cache()
//                  up-refs it before using it (and, unless NO_INTERNAL_STORE, adds it to the
//                  internal cache). JS may dispose its handle at once: OpenSSL's reference
//                  keeps the session alive. A not_resumable session (e.g. one that went
//                  through SSL_CTX_remove_session) is ignored by OpenSSL; with *copy = 1 it
//                  is not freed there either. A miss returns NULL.
//
//  client_hello_cb Lends nothing: JS gets a copy of what the ClientHello says (ReadClientHello)
//                  and the connection's own JS object. It answers SSL_CLIENT_HELLO_SUCCESS (1),
//                  _RETRY (-1) or _ERROR (0). RETRY pauses the handshake: the step returns
//                  SSL_ERROR_WANT_CLIENT_HELLO_CB (rwstate SSL_CLIENT_HELLO_CB) and OpenSSL keeps
//                  the parsed ClientHello; the next doHandshake() re-runs
//                  tls_early_post_process_client_hello() from the top (ssl/statem/statem_srvr.c,
//                  WORK_MORE_A), calling us again BEFORE the session lookup
//                  (ssl_get_prev_session: the TLS 1.2 session id, or the TLS 1.3 pre_shared_key
//                  extension, which reaches get_session_cb for 32-byte stateful identities). So
//                  a lookup started on the first call can hand its result to get_session_cb
//                  on the retry. A HelloRetryRequest brings a second ClientHello: one more call.
//  ticket_key_evp_cb  Borrows OpenSSL's cipher and MAC contexts to initialise them with a key
//                  of the context's TicketKeyRing (held by shared_ptr for the duration of the
//                  call: a JS clock may drop the ring from the context meanwhile). Never holds
//                  the cache lock. Returns 1, 2 (renew), 0 (no ticket / cannot decrypt), -1.
//
// Callbacks reach JS only inside a JS-initiated call (Addon::CanCallJs): SSL_free and
// SSL_CTX_free running in a GC finalizer still fire remove_cb, and those stay in C (the
// finalizer of a context even unsets its callbacks before SSL_CTX_free).
// An exception thrown by a JS callback is recorded and rethrown by the call that triggered
// it, after OpenSSL has returned (never thrown through OpenSSL's C frames). Every trampoline
// also ends in catch (...): while a worker is terminated even recording fails, and a C++
// exception unwinding through OpenSSL would abort the process. OpenSSL sees a
// throwing new/remove callback as having returned normally, and a throwing get callback as
// a miss (NULL), so its own state stays consistent.
//
// The cache lock (SSL_CTX->lock, a pthread rwlock in OpenSSL 3.0) and remove_cb:
//   SSL_CTX_flush_sessions()        calls remove_cb WITH the write lock held ("still do the
//                                   remove_session_cb() within the lock"); so do close()
//                                   (flush with t = 0), SSL_CTX_free(), and the every-255-
//                                   handshakes auto flush in ssl_update_cache().
//   SSL_CTX_add_session()           evicts the tail when the cache is full through
//                                   remove_session_lock(ctx, tail, 0): remove_cb WITH the
//                                   lock held (during a handshake, or addSession()).
//   SSL_CTX_remove_session()        remove_session_lock(ctx, c, 1) unlocks BEFORE remove_cb;
//                                   the same for its callers: removeSession(), an expired
//                                   session found at lookup (ssl_get_prev_session), a fatal
//                                   alert (ssl3_send_alert), ssl_clear_bad_session() from
//                                   SSL_free / SSL_set_session, the TLS 1.3 client dropping a
//                                   used ticket, and a TLS 1.2 client receiving a new ticket.
// Re-taking a write lock the thread already holds is an error (EDEADLK) or a deadlock, so
// OpenSSL would silently fail or hang. A remove_cb cannot tell which path called it, so inside
// ANY onRemoveSession callback every method that takes this context's lock
// (flushSessions/addSession/removeSession/close, and driving a connection of this context)
// throws ERR_CONTEXT_BUSY. Everything else (stats, getters, setters that do not lock,
// other contexts) works there.
// ---------------------------------------------------------------------------------------

namespace ossl {

namespace {

// The JS callback `name` of a context (kept on its JS object: see slots in addon.h).
Napi::Function Callback(SslContext* self, const char* name) {
  return slots::Get(self->Env(), self->Value(), name).As<Napi::Function>();
}

}  // namespace

int SslContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  bool consumed = false;  // OpenSSL's reference is owned by `owned` (or a JS handle) from here
  try {
    auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    SslConnection* conn = SslConnection::FromSSL(ssl);
    bool toContext = self != nullptr && self->hasNewCb_;
    bool toConnection = conn != nullptr && conn->HasSessionListener();
    if (self == nullptr || !self->addon_->CanCallJs() || (!toContext && !toConnection)) {
      return 0;  // OpenSSL drops the reference it took for us
    }
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // Each listener gets a handle with a reference of its own, so one disposing its handle
    // never disposes the other's: the context callback adopts OpenSSL's reference, the
    // connection listener an extra one (or OpenSSL's, when it is the only listener).
    SSLSessionPointer owned(session);
    consumed = true;
    Napi::Object forContext;
    Napi::Object forConnection;
    try {
      if (toContext && toConnection) {
        SSL_SESSION_up_ref(session);
        forConnection = SslSession::Adopt(env, SSLSessionPointer(session));
      }
      if (toContext) {
        forContext = SslSession::Adopt(env, std::move(owned));
      } else {
        forConnection = SslSession::Adopt(env, std::move(owned));
      }
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);
      return 1;  // OpenSSL's reference was consumed: adopted, or freed by `owned`
    }
    // Both listeners run even if the first throws; the first exception is the one rethrown.
    if (toContext) {
      try {
        Callback(self, "newSession").Call({forContext, conn != nullptr ? conn->Value() : env.Null()});
      } catch (const Napi::Error& error) {
        RecordCallbackException(env, error);
      }
    }
    if (!forConnection.IsEmpty() && conn->HasSessionListener()) {  // the context callback may have unset it
      try {
        conn->DeliverSession(forConnection);
      } catch (const Napi::Error& error) {
        RecordCallbackException(env, error);
      }
    }
    return 1;  // OpenSSL's reference was consumed by a JS handle
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames: when a worker is being terminated even
    // the napi calls in the handlers above (RecordCallbackException) fail and throw.
    return consumed ? 1 : 0;
  }
}

void SslContext::OnRemoveSession(SSL_CTX* ctx, SSL_SESSION* session) {
  SslContext* busy = nullptr;  // whose removeDepth_ we raised
  try {
    auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(ctx));
    if (self == nullptr || !self->hasRemoveCb_ || !self->addon_->CanCallJs()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->removeDepth_++;
    busy = self;
    try {
      SSL_SESSION_up_ref(session);  // JS's own reference; OpenSSL only lends `session`
      Napi::Object js = SslSession::Adopt(env, SSLSessionPointer(session));
      Callback(self, "removeSession").Call({js});
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);
    }
    self->removeDepth_--;
    busy = nullptr;
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames: when a worker is being terminated even
    // the napi calls in the handlers above (RecordCallbackException) fail and throw.
    if (busy != nullptr) busy->removeDepth_--;
  }
}

SSL_SESSION* SslContext::OnGetSession(SSL* ssl, const unsigned char* id, int len, int* copy) {
  try {
    *copy = 0;
    auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (self == nullptr || !self->hasGetCb_ || !self->addon_->CanCallJs()) return nullptr;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      SslConnection* conn = SslConnection::FromSSL(ssl);
      Napi::Value result = Callback(self, "getSession").Call({Napi::Buffer<uint8_t>::Copy(env, id, static_cast<size_t>(len)), conn != nullptr ? conn->Value() : env.Null()});
      if (result.IsNull() || result.IsUndefined()) return nullptr;
      SSL_SESSION* found = SslSession::FromValue(result, "onGetSession() result")->Get(env);
      if ((SSL_CTX_get_session_cache_mode(SSL_get_SSL_CTX(ssl)) & SSL_SESS_CACHE_NO_INTERNAL_STORE) == 0 &&
          self->CachedElsewhere(found)) {
        // lookup_sess_in_cache() will SSL_CTX_add_session() it here: hand OpenSSL a copy that
        // is in no cache, and our reference to it (*copy = 0).
        SSL_SESSION* dup = SSL_SESSION_dup(found);
        if (dup != nullptr) return dup;  // *copy stays 0: OpenSSL owns this reference
        return nullptr;
      }
      *copy = 1;  // OpenSSL up-refs `found`; the JS handle keeps its own reference
      return found;
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);
      return nullptr;
    }
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames: when a worker is being terminated even
    // the napi calls in the handlers above (RecordCallbackException) fail and throw.
    *copy = 0;
    return nullptr;  // a miss
  }
}

int SslContext::OnClientHello(SSL* ssl, int* alert, void* arg) {
  try {
    (void)arg;
    auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    SslConnection* conn = SslConnection::FromSSL(ssl);
    if (self == nullptr || conn == nullptr || !self->hasClientHelloCb_ || !self->addon_->CanCallJs()) {
      return SSL_CLIENT_HELLO_SUCCESS;  // nobody to ask: carry on as without the callback
    }
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      Napi::Value verdict = Callback(self, "clientHello").Call({conn->Value(), ReadClientHello(env, ssl)});
      int result = verdict.IsNumber() ? verdict.As<Napi::Number>().Int32Value() : SSL_CLIENT_HELLO_SUCCESS;
      if (result == SSL_CLIENT_HELLO_RETRY) return SSL_CLIENT_HELLO_RETRY;
      if (result == SSL_CLIENT_HELLO_ERROR) {
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
      }
      return SSL_CLIENT_HELLO_SUCCESS;
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);  // rethrown by the step, after OpenSSL's alert
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames: when a worker is being terminated even
    // the napi calls in the handlers above (RecordCallbackException) fail and throw.
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
}

int SslContext::OnTicketKey(SSL* ssl, unsigned char* keyName, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                            EVP_MAC_CTX* mac, int encrypt) {
  try {
    // OpenSSL calls the callback of s->session_ctx; we never switch contexts (no
    // SSL_set_SSL_CTX), so that is SSL_get_SSL_CTX(ssl), whose app data is our wrapper.
    auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (self == nullptr || !self->ticketKeys_) return 0;  // closed: no ticket, no decryption
    std::shared_ptr<TicketKeyRing> ring = self->ticketKeys_;
    int64_t now = TicketKeys::SystemNow();
    if (ring->jsClock && self->addon_->CanCallJs()) {
      Napi::Env env = self->Env();
      Napi::HandleScope scope(env);
      try {
        now = TicketKeys::Now(env, slots::Get(env, self->Value(), "ticketKeys"));
      } catch (const Napi::Error& error) {
        RecordCallbackException(env, error);
        return -1;  // a fatal internal_error alert; the step rethrows the clock's exception
      }
    }
    if (encrypt == 1) return ring->Encrypt(now, keyName, iv, cipher, mac);
    return ring->Decrypt(now, SSL_version(ssl) == TLS1_3_VERSION, keyName, iv, cipher, mac);
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames: when a worker is being terminated even
    // the napi calls in the handlers above (RecordCallbackException) fail and throw.
    return -1;
  }
}

}  // namespace ossl

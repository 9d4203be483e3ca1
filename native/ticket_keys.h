// TicketKeys: session ticket encryption keys with rotation, held in C++ memory only, used by
// SSL_CTX_set_tlsext_ticket_key_evp_cb (see SslContext::OnTicketKey).
//
// A key is { name (16 bytes, sent in clear at the start of every ticket), AES-256-CBC key,
// HMAC-SHA256 key, activeFrom (ms since the epoch) } (the layout OpenSSL's own default keys
// and nginx's 80-byte key files use). Keys are ordered by activeFrom:
//   - current   the newest key whose activeFrom <= now: encrypts every new ticket;
//   - next      keys whose activeFrom > now (pre-distributed to a fleet before they start
//               encrypting): decrypt, so a server whose clock runs ahead does no harm;
//   - previous  retired keys (retiredAt = activeFrom of the key after them): decrypt, and
//               ask OpenSSL for a fresh ticket (the callback returns 2), while
//               now < retiredAt + gracePeriod and at most `keep` of them; then dropped.
// With autoRotate (one process, no shared source) Maintain() makes a new current key every
// `interval`; with a shared source (file, store) JS adds the keys and Maintain() only prunes.
// Key bytes are zeroed with OPENSSL_cleanse when a key is dropped, replaced, or freed.
#pragma once

#include <napi.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "addon.h"

namespace ossl {

struct TicketKey {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
  int64_t activeFrom;  // ms since the epoch
};

class TicketKeyRing {
 public:
  TicketKeyRing(int64_t interval, int64_t grace, size_t keep, bool autoRotate);
  ~TicketKeyRing();
  TicketKeyRing(const TicketKeyRing&) = delete;
  TicketKeyRing& operator=(const TicketKeyRing&) = delete;

  // The evp callback's two halves. Return values are the callback's: 1 ok, 2 ok + issue a new
  // ticket, 0 no ticket / cannot decrypt (full handshake), -1 internal error.
  int Encrypt(int64_t now, unsigned char keyName[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
  int Decrypt(int64_t now, bool tls13, const unsigned char keyName[16], const unsigned char* iv,
              EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);

  // Auto-rotation (when enabled) and pruning of expired previous keys.
  void Maintain(int64_t now);
  // A fresh random key starting at activeFrom. False if RAND_bytes failed.
  bool Generate(int64_t activeFrom);
  // Replaces every key with the ones in `record` (Export's format). False (keys unchanged)
  // if the record is malformed.
  bool Import(const unsigned char* record, size_t len);
  // Serialized keys: "OSTK" 0x01, count (u16), then per key name|aes|hmac|activeFrom (i64 BE).
  size_t ExportSize() const;
  void Export(unsigned char* out) const;
  void Clear();
  // Clear() for good: no automatic key either (a closed TicketKeys issues no tickets).
  void Close() {
    autoRotate_ = false;
    Clear();
  }

  size_t Size() const { return keys_.size(); }
  const std::vector<TicketKey>& Keys() const { return keys_; }
  // Index of the current key, or -1 when there is none.
  long CurrentIndex(int64_t now) const;
  // The moment key i stops decrypting (INT64_MAX for current and next keys).
  int64_t DecryptUntil(size_t i, int64_t now) const;

  bool jsClock = false;  // a JS clock is installed on the TicketKeys object (tests)
  struct Counters {
    double encrypted = 0, decrypted = 0, decryptedWithOldKey = 0, rejected = 0;
  } counters;

 private:
  void EraseAt(size_t i);
  std::vector<TicketKey> keys_;  // sorted by activeFrom, ascending
  int64_t interval_;
  int64_t grace_;
  size_t keep_;
  bool autoRotate_;
};

class TicketKeys : public Napi::ObjectWrap<TicketKeys> {
 public:
  static Napi::Function Init(Napi::Env env, Addon* addon);
  // Type-tag checked unwrap; the ring outlives this wrapper while a context uses it.
  static std::shared_ptr<TicketKeyRing> RingFromValue(Napi::Value value, const char* param);
  // ms since the epoch: the JS clock installed on `object` (a TicketKeys; may throw what the
  // clock throws), or the system's when it has none.
  static int64_t Now(Napi::Env env, Napi::Value object);
  static int64_t SystemNow();

  explicit TicketKeys(const Napi::CallbackInfo& info);
  ~TicketKeys() override;

 private:
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Maintain(const Napi::CallbackInfo& info);
  Napi::Value Import(const Napi::CallbackInfo& info);
  Napi::Value Export(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetClock(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);

  std::shared_ptr<TicketKeyRing> ring_;
};

}  // namespace ossl

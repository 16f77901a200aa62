// Which System V keys the shim serves from seqmqd and which it leaves to the kernel
// (SEQMQ_SYSV_KEYS), and the seqmq queue name of a key.
#pragma once

#include <seqmq/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace seqmq::shim {

/// The keys that go to seqmq; every other key goes to the kernel. IPC_PRIVATE is key 0.
class key_routing {
public:
    /// Every key to seqmq (SEQMQ_SYSV_KEYS unset).
    key_routing() = default;

    /// Parses SEQMQ_SYSV_KEYS: empty or `all`: every key; `none`: no key; otherwise keys and
    /// ranges LOW-HIGH separated by commas (blanks allowed around them), each a 32-bit number
    /// as C writes it (0x5e9a0001, 1234, 0777), as ipcs prints keys or as the program passes
    /// them (a negative key_t is its 32-bit pattern).
    /// Errors: invalid_argument if the text is none of these, or a range runs backwards.
    static result<key_routing> parse(std::string_view text);

    /// Whether `key` goes to seqmq.
    bool to_seqmq(key_t key) const noexcept;
    /// Every key goes to seqmq: no call ever reaches the kernel.
    bool all() const noexcept { return all_; }
    /// No key goes to seqmq: every call goes to the kernel.
    bool none() const noexcept { return !all_ && ranges_.empty(); }

private:
    bool all_ = true;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges_; // inclusive
};

/// A keyed queue's seqmq name: the key as ipcs prints it, "0x%08x".
std::string queue_name_of(key_t key);

/// The key whose queue name is `name` ("0x" and eight lowercase hex digits); none for any other
/// name (a private queue, a queue made through seqmq's own API).
std::optional<key_t> key_of_queue_name(std::string_view name) noexcept;

} // namespace seqmq::shim

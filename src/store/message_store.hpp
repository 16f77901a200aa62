#pragma once

#include <seqmq/message.hpp>

#include <boost/intrusive/set.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory_resource>
#include <set>
#include <span>
#include <sys/types.h>

namespace seqmq::detail {

namespace bi = boost::intrusive;
using arrival_hook = bi::set_member_hook<bi::link_mode<bi::normal_link>>;

/// One queued message. The payload follows the node in the same allocation.
struct queued_message {
    long type;
    std::uint64_t arrival;
    pid_t sender_pid;
    std::uint32_t size;
    arrival_hook in_all;  // arrival order, all types
    arrival_hook in_type; // arrival order within the type

    std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
    const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
    std::span<const std::byte> payload() const noexcept { return {data(), size}; }
};

/// The messages a queue holds, in arrival order, indexed by type so that every msgrcv selector
/// finds its message without scanning the backlog:
///   any            the oldest message                         O(1)
///   type t         the head of t's list                       O(log T)
///   except t       the oldest head among types other than t   O(log T)
///   lowest <= |t|  the head of the lowest type                O(1)
/// (T = distinct types waiting). Appending the newest message is O(1) amortized; a message put
/// back at an older place (a receiver died holding it) is O(log n). Memory comes from a pool,
/// so a queue in steady state does not call the heap per message. Used by the mailbox (its
/// stash) and the daemon (its queues).
class message_store {
public:
    explicit message_store(std::size_t max_message_size);
    message_store(const message_store&) = delete;
    message_store& operator=(const message_store&) = delete;
    ~message_store();

    /// Adds a copy of `payload` at its place by `arrival` (which no message held has): O(1)
    /// when it is the newest, O(log n) otherwise.
    const queued_message& push(long type, std::span<const std::byte> payload, pid_t sender,
                               std::uint64_t arrival);

    /// The first message `which` selects, or nullptr.
    const queued_message* find(selector which) const noexcept;

    /// Removes `m`, any message held.
    void pop(const queued_message& m) noexcept;

    /// Removes every message and gives their memory back to the system.
    void clear() noexcept;

    /// The message at `position` in arrival order (0 = oldest), or nullptr. O(position).
    const queued_message* at(std::size_t position) const noexcept;

    /// Oldest first, for walking: for (auto* m = oldest(); m; m = after(m)).
    const queued_message* oldest() const noexcept;
    const queued_message* after(const queued_message* m) const noexcept;
    /// The newest message, or nullptr.
    const queued_message* newest() const noexcept;

    std::size_t count() const noexcept { return count_; }
    std::size_t bytes() const noexcept { return bytes_; }
    bool empty() const noexcept { return count_ == 0; }

private:
    struct arrival_key {
        using type = std::uint64_t;
        type operator()(const queued_message& m) const noexcept { return m.arrival; }
    };
    template <arrival_hook queued_message::*Hook>
    using by_arrival = bi::set<queued_message, bi::member_hook<queued_message, arrival_hook, Hook>,
                               bi::key_of_value<arrival_key>, bi::constant_time_size<false>>;
    using all_set = by_arrival<&queued_message::in_all>;
    using type_set = by_arrival<&queued_message::in_type>;
    struct by_arrival_ptr {
        bool operator()(const queued_message* a, const queued_message* b) const noexcept {
            return a->arrival < b->arrival;
        }
    };

    void release(queued_message* m) noexcept;

    std::pmr::unsynchronized_pool_resource pool_;
    std::pmr::map<long, type_set> types_; // only types with messages waiting
    // The head of every type's list, oldest first: fronts_.begin() is the oldest message.
    std::pmr::set<queued_message*, by_arrival_ptr> fronts_;
    all_set all_;
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;
};

/// Linux's convert_mode for msgtyp < 0: the largest type admitted (|msgtyp|, LONG_MIN safe).
constexpr long lowest_limit(long type) noexcept {
    return type == std::numeric_limits<long>::min() ? std::numeric_limits<long>::max() : -type;
}

} // namespace seqmq::detail

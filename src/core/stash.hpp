#pragma once

#include <seqmq/message.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory_resource>
#include <set>
#include <span>
#include <sys/types.h>

namespace seqmq::detail {

/// One queued message. The payload follows the node in the same allocation.
struct queued_message {
    long type;
    std::uint64_t arrival;
    pid_t sender_pid;
    std::uint32_t size;
    queued_message* prev = nullptr; // arrival order, all types
    queued_message* next = nullptr;
    queued_message* next_same = nullptr; // arrival order within the type

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
/// (T = distinct types waiting). Memory comes from a pool, so a queue in steady state does not
/// call the heap per message. Used by the mailbox (its stash) and the daemon (its queues).
class message_store {
public:
    explicit message_store(std::size_t max_message_size);
    message_store(const message_store&) = delete;
    message_store& operator=(const message_store&) = delete;
    ~message_store();

    /// Appends a copy of `payload`, newest in arrival order.
    const queued_message& push(long type, std::span<const std::byte> payload, pid_t sender,
                               std::uint64_t arrival);

    /// The first message `which` selects, or nullptr.
    const queued_message* find(selector which) const noexcept;

    /// Removes `m`, which find() returned (the head of its type).
    void pop(const queued_message& m) noexcept;

    /// The message at `position` in arrival order (0 = oldest), or nullptr. O(position).
    const queued_message* at(std::size_t position) const noexcept;

    /// Oldest first, for walking: for (auto* m = oldest(); m; m = m->next).
    const queued_message* oldest() const noexcept { return head_; }

    std::size_t count() const noexcept { return count_; }
    std::size_t bytes() const noexcept { return bytes_; }
    bool empty() const noexcept { return count_ == 0; }

private:
    struct type_list {
        queued_message* head = nullptr;
        queued_message* tail = nullptr;
    };
    struct by_arrival {
        bool operator()(const queued_message* a, const queued_message* b) const noexcept {
            return a->arrival < b->arrival;
        }
    };

    std::pmr::unsynchronized_pool_resource pool_;
    std::pmr::map<long, type_list> types_;
    // The head of every type's list, oldest first: fronts_.begin() is the oldest message.
    std::pmr::set<queued_message*, by_arrival> fronts_;
    queued_message* head_ = nullptr;
    queued_message* tail_ = nullptr;
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;
};

/// Linux's convert_mode for msgtyp < 0: the largest type admitted (|msgtyp|, LONG_MIN safe).
constexpr long lowest_limit(long type) noexcept {
    return type == std::numeric_limits<long>::min() ? std::numeric_limits<long>::max() : -type;
}

} // namespace seqmq::detail

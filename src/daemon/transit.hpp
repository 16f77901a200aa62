// Messages handed to a client and not yet acknowledged: held so that each goes back to its
// queue, at its place, if the client goes away first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace seqmq::daemon {

struct in_transit {
    std::uint64_t queue_id;
    long type;
    std::uint64_t arrival;
    pid_t sender;
    std::vector<std::byte> data;
};

/// A client's messages in transit, oldest first. Acks come in order, so this is a queue; a
/// vector with a moving head, compacted now and then, reuses its storage (a deque would
/// allocate and free a block every few messages).
class transit_queue {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }
    in_transit& front() noexcept { return items_[head_]; }
    const in_transit& at(std::size_t i) const { return items_.at(head_ + i); }
    void push_back(in_transit t) {
        if (head_ > 16 && head_ * 2 > items_.size()) {
            items_.erase(items_.begin(), items_.begin() + std::ptrdiff_t(head_));
            head_ = 0;
        }
        items_.push_back(std::move(t));
    }
    void pop_front() noexcept {
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        }
    }

private:
    std::vector<in_transit> items_;
    std::size_t head_ = 0;
};

/// Buffers of acknowledged messages kept for the next ones in transit, within a bound of
/// count and bytes, so that handing a message over does not call the heap in the steady state.
class buffer_pool {
public:
    buffer_pool(std::size_t max_buffers, std::size_t max_bytes)
        : max_buffers_(max_buffers), max_bytes_(max_bytes) {
        spare_.reserve(max_buffers);
    }

    /// A buffer holding a copy of `data`.
    std::vector<std::byte> copy(std::span<const std::byte> data) {
        std::vector<std::byte> b;
        if (!spare_.empty()) {
            b = std::move(spare_.back());
            spare_.pop_back();
            bytes_ -= b.capacity();
        }
        b.assign(data.begin(), data.end());
        return b;
    }

    /// Gives a buffer back for reuse (or to the heap, past the bound).
    void give_back(std::vector<std::byte>&& b) {
        if (spare_.size() < max_buffers_ && bytes_ + b.capacity() <= max_bytes_ &&
            b.capacity() != 0) {
            bytes_ += b.capacity();
            spare_.push_back(std::move(b));
        }
    }

private:
    std::vector<std::vector<std::byte>> spare_;
    std::size_t bytes_ = 0;
    std::size_t max_buffers_, max_bytes_;
};

} // namespace seqmq::daemon

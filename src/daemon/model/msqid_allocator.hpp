// msqids as Linux makes them (ipc/util.c, ipc_idr_alloc): an index into the table of queues and
// a sequence number, so that a removed queue's id stays invalid (EINVAL) long after its index
// was given to a newer queue.
#pragma once

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace seqmq::daemon::model {

/// Gives msqids as Linux's ipc_idr_alloc does: id = seq * 32768 + index. The index is the first
/// free one at or after the last given + 1 in [0, max(in_use * 3 / 2, 64)), at most 32768
/// indexes (idr_alloc_cyclic: wrapping to 0 when none is free there); the sequence number goes
/// up by one each time an index is not above the last one given (it wraps to 0 at
/// INT_MAX >> 15), so that every id is at most INT_MAX. A fresh allocator (a fresh IPC
/// namespace) gives 0, 1, 2, ...
class msqid_allocator {
public:
    static constexpr int index_shift = 15;                             ///< IPCMNI_SHIFT
    static constexpr std::uint32_t max_indexes = 1u << index_shift;    ///< IPCMNI
    static constexpr std::uint32_t min_cycle = 64;                     ///< ipc_min_cycle
    static constexpr std::uint32_t seq_limit = INT_MAX >> index_shift; ///< ipcid_seq_max()

    /// The index part of an id (ipcid_to_idx); also what MSG_STAT takes.
    static constexpr std::uint32_t index_of(std::uint64_t id) noexcept {
        return std::uint32_t(id & (max_indexes - 1));
    }

    /// The id for a new queue when `in_use` queues exist; `used(index)` says whether an index
    /// is taken. None when no index is free in the range (cannot happen while in_use is below
    /// max_indexes: the range is always larger than in_use).
    template <class Used>
    std::optional<std::uint64_t> allocate(std::size_t in_use, Used used) {
        const auto end = std::uint32_t(
            std::min<std::size_t>(std::max<std::size_t>(in_use * 3 / 2, min_cycle), max_indexes));
        auto first_free = [&](std::uint32_t from) -> std::optional<std::uint32_t> {
            for (std::uint32_t i = from; i < end; ++i)
                if (!used(i))
                    return i;
            return std::nullopt;
        };
        auto index = first_free(next_);
        if (!index && next_ > 0)
            index = first_free(0);
        if (!index)
            return std::nullopt;
        next_ = *index + 1;
        if (std::int64_t(*index) <= last_index_ && ++seq_ >= seq_limit)
            seq_ = 0;
        last_index_ = *index;
        return std::uint64_t(seq_) << index_shift | *index;
    }

    /// What the allocator remembers, so that a restarted seqmqd goes on numbering where it
    /// stopped (a state directory keeps it: ids of removed queues stay invalid).
    struct state {
        std::uint32_t next = 0;
        std::int64_t last_index = -1;
        std::uint32_t seq = 0;
        bool operator==(const state&) const = default;
    };
    state saved() const noexcept { return {next_, last_index_, seq_}; }
    /// Takes up a state saved(); false (and nothing changed) if it is not one an allocator
    /// can be in.
    bool restore(const state& s) noexcept {
        if (s.next > max_indexes || s.last_index < -1 ||
            s.last_index >= std::int64_t(max_indexes) || s.seq >= seq_limit)
            return false;
        next_ = s.next, last_index_ = s.last_index, seq_ = s.seq;
        return true;
    }

private:
    std::uint32_t next_ = 0;       // idr_next: where the search for a free index starts
    std::int64_t last_index_ = -1; // ids->last_idx
    std::uint32_t seq_ = 0;        // ids->seq
};

} // namespace seqmq::daemon::model

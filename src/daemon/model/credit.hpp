// The credit ledger's rule: how much room a sending client may hold on a queue, so that its
// sends go out without a round trip each (see README, "Credits").
#pragma once

#include "daemon/model/hosted_queue.hpp"

#include <algorithm>
#include <optional>

namespace seqmq::daemon::model {

/// The credit to add to `held` for a client sending to `q`: only from the room above half the
/// capacity, at most `window` in all, within the memory budget, and none while senders wait
/// (they come first). std::nullopt: nothing to grant now.
inline std::optional<queue_usage> credit_to_grant(const hosted_queue& q, queue_usage held,
                                                  std::size_t window) {
    if (q.senders_waiting())
        return std::nullopt;
    const std::size_t cap = q.capacity(), half = cap / 2;
    const queue_usage used = q.used(), reserved = q.reserved();
    const std::size_t used_b = used.bytes + reserved.bytes;
    const std::size_t used_m = used.messages + reserved.messages;
    if (used_b >= cap - half || used_m >= cap - half)
        return std::nullopt;
    window = std::min(window, cap - half);
    if (held.bytes >= window / 2 && held.messages >= window / 2)
        return std::nullopt;
    const queue_usage add{std::min(window - std::min(window, held.bytes), cap - half - used_b),
                          std::min(window - std::min(window, held.messages), cap - half - used_m)};
    if (add.bytes == 0 || add.messages == 0 || !q.budget_admits(add))
        return std::nullopt;
    return add;
}

} // namespace seqmq::daemon::model

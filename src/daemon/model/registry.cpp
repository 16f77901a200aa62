#include "daemon/model/registry.hpp"

#include <cerrno>

namespace seqmq::daemon::model {

std::expected<hosted_queue*, int> registry::open(const open_params& want, const credentials& who,
                                                 bool& created) {
    created = false;
    hosted_queue* q = nullptr;
    if (want.how == open_params::by::id) {
        q = find(want.id);
        if (!q)
            return std::unexpected(ENOENT);
    } else if (want.how == open_params::by::name) {
        if (auto it = by_name_.find(std::string(want.name)); it != by_name_.end()) {
            if (want.create && want.exclusive)
                return std::unexpected(EEXIST);
            q = it->second;
        } else if (!want.create) {
            return std::unexpected(ENOENT);
        }
    }
    if (q) {
        if (!permitted(who, q->perm(), want.mode))
            return std::unexpected(EACCES);
        return q;
    }
    if (by_id_.size() >= limits_.max_queues)
        return std::unexpected(ENOSPC);
    const std::size_t capacity = want.capacity ? want.capacity : limits_.default_capacity;
    if (capacity > limits_.max_queue_bytes && !who.is_root())
        return std::unexpected(EINVAL);
    ipc_perm perm;
    perm.uid = perm.cuid = who.known ? who.uid : uid_t(-1);
    perm.gid = perm.cgid = who.known ? who.gid : gid_t(-1);
    perm.mode = want.mode & 0777;
    const std::string name = want.how == open_params::by::name ? std::string(want.name) : "";
    auto made = std::make_unique<hosted_queue>(next_id_++, name, perm, capacity,
                                               limits_.max_message_size, budget_, done_);
    q = made.get();
    by_id_.emplace(q->id(), std::move(made));
    if (!name.empty())
        by_name_.emplace(name, q);
    created = true;
    return q;
}

hosted_queue* registry::find(std::uint64_t id) noexcept {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.get();
}

void registry::erase(hosted_queue& q) {
    if (!q.name().empty())
        by_name_.erase(q.name());
    by_id_.erase(q.id()); // q is gone
}

} // namespace seqmq::daemon::model

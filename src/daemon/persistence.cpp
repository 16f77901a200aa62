#include "daemon/persistence.hpp"

#include "log.hpp"
#include "wire/byte_order.hpp"

#include <cerrno>

namespace seqmq::daemon {

using namespace seqmq::detail;

namespace {

std::error_code bad_record() {
    return std::make_error_code(std::errc::bad_message);
}

durable::stored_queue record_of(const model::hosted_queue& q) {
    const model::queue_status st = q.status();
    durable::stored_queue s;
    s.id = std::uint32_t(q.id());
    s.name = q.name();
    s.uid = q.perm().uid;
    s.gid = q.perm().gid;
    s.cuid = q.perm().cuid;
    s.cgid = q.perm().cgid;
    s.mode = q.perm().mode;
    s.capacity = q.capacity();
    s.next_arrival = q.next_arrival();
    s.last_send_pid = st.last_send_pid;
    s.last_receive_pid = st.last_receive_pid;
    s.send_time = st.send_time;
    s.receive_time = st.receive_time;
    s.change_time = st.change_time;
    return s;
}

} // namespace

std::vector<std::byte> encode_ids(const model::msqid_allocator::state& s) {
    std::vector<std::byte> b(16);
    put_big_endian(b.data(), s.next);
    put_big_endian(b.data() + 4, s.last_index);
    put_big_endian(b.data() + 12, s.seq);
    return b;
}

std::optional<model::msqid_allocator::state> decode_ids(std::span<const std::byte> b) {
    if (b.size() != 16)
        return std::nullopt;
    return model::msqid_allocator::state{get_big_endian<std::uint32_t>(b.data()),
                                         get_big_endian<std::int64_t>(b.data() + 4),
                                         get_big_endian<std::uint32_t>(b.data() + 12)};
}

persistence::persistence(durable::state_store store, std::chrono::milliseconds sync_interval)
    : store_(std::move(store)), policy_(store_.info().sync), interval_(sync_interval) {}

result<void> persistence::load(model::registry& into) {
    model::hosted_queue* last = nullptr; // messages come queue by queue
    auto loaded = store_.load(
        [&](const durable::stored_queue& s) -> result<void> {
            model::ipc_perm perm;
            perm.uid = s.uid;
            perm.gid = s.gid;
            perm.cuid = s.cuid;
            perm.cgid = s.cgid;
            perm.mode = s.mode & 0777;
            auto q = into.restore(s.id, s.name, perm, std::size_t(s.capacity));
            if (!q)
                return std::unexpected(bad_record());
            (*q)->restore_status(s.next_arrival, s.last_send_pid, s.last_receive_pid, s.send_time,
                                 s.receive_time, s.change_time);
            return {};
        },
        [&](std::uint32_t id, const durable::stored_message& m) -> result<void> {
            if (!last || last->id() != id)
                last = into.find(id);
            if (!last || m.type < 1 || m.data.size() > last->max_message_size())
                return std::unexpected(bad_record());
            last->restore_message(long(m.type), m.data, pid_t(m.sender_pid), m.arrival);
            return {};
        });
    if (!loaded)
        return loaded;
    auto ids = store_.registry();
    if (!ids)
        return std::unexpected(ids.error());
    if (!ids->empty()) {
        auto s = decode_ids(*ids);
        if (!s || !into.ids().restore(*s))
            return std::unexpected(bad_record());
    }
    into.observe(this);
    return {};
}

void persistence::failed(const char* what, const std::error_code& e) {
    turn_failed_ = true;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_complaint_ >= std::chrono::seconds(1)) {
        last_complaint_ = now;
        log().error("state directory {}: {}: {} (what this turn changed is not on disk)",
                    store_.info().directory.string(), what, e.message());
    }
}

void persistence::queue_changed(const model::hosted_queue& q) {
    if (is_dirty_.insert(&q).second)
        dirty_.push_back(&q);
}

void persistence::queue_removed(const model::hosted_queue& q) {
    if (is_dirty_.erase(&q))
        std::erase(dirty_, &q);
    if (auto r = store_.remove_queue(std::uint32_t(q.id())); !r)
        failed("removing a queue", r.error());
}

void persistence::message_accepted(const model::hosted_queue& q, const model::message_view& m) {
    durable::stored_message s;
    s.arrival = m.arrival;
    s.type = m.type;
    s.sender_pid = m.sender;
    s.time = model::coarse_now_ns();
    s.data = m.data;
    if (auto r = store_.put_message(std::uint32_t(q.id()), s); !r)
        failed("writing a message", r.error());
}

void persistence::message_removed(const model::hosted_queue& q, std::uint64_t arrival) {
    if (auto r = store_.remove_message(std::uint32_t(q.id()), arrival); !r)
        failed("removing a message", r.error());
}

void persistence::ids_changed(const model::msqid_allocator::state& ids) {
    ids_ = ids;
}

void persistence::end_turn() {
    for (const model::hosted_queue* q : dirty_)
        if (auto r = store_.put_queue(record_of(*q)); !r)
            failed("writing a queue", r.error());
    dirty_.clear();
    is_dirty_.clear();
    if (ids_) {
        const auto b = encode_ids(*ids_);
        if (auto r = store_.put_registry(b); !r)
            failed("writing the id allocator", r.error());
        ids_.reset();
    }
    if (!store_.pending()) {
        turn_failed_ = false;
        return;
    }
    if (auto r = store_.commit(); !r)
        failed("commit", r.error());
    else if (policy_ == durable::sync_policy::batch && !unsynced_) {
        unsynced_ = true;
        unsynced_since_ = std::chrono::steady_clock::now();
    }
    turn_failed_ = false;
}

void persistence::sync_if_due() {
    if (!unsynced_ || std::chrono::steady_clock::now() - unsynced_since_ < interval_)
        return;
    sync_now();
}

int persistence::sync_due_in_ms() const noexcept {
    if (!unsynced_)
        return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        unsynced_since_ + interval_ - std::chrono::steady_clock::now());
    return int(std::max<std::int64_t>(left.count(), 0));
}

void persistence::sync_now() {
    unsynced_ = false;
    if (policy_ == durable::sync_policy::none)
        return;
    if (auto r = store_.sync(); !r)
        failed("sync", r.error());
}

} // namespace seqmq::daemon

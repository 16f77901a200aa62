#include "daemon/requests.hpp"

#include "daemon/model/credit.hpp"
#include "log.hpp"
#include "wire/byte_order.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/epoll.h>

namespace seqmq::daemon {

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;
namespace sysv = seqmq::detail::sysv;

namespace {

constexpr std::size_t list_part_bytes = 60000; // a list reply part stays far below SO_SNDBUF
constexpr std::size_t batch_entry_header = 28; // i64 type, u64 arrival, i32 pid, u32 size, u32 n
// Buffers of acknowledged messages kept for the next ones in transit: enough for the largest
// receive_many reply (list_part_bytes / batch_entry_header entries), within a memory bound.
constexpr std::size_t spare_buffers_max = list_part_bytes / batch_entry_header + 1;
constexpr std::size_t spare_bytes_max = 4 << 20;

session& session_of(const model::waiter& w) {
    return *static_cast<session*>(const_cast<void*>(w.owner));
}

} // namespace

// The opening checks of every request, in one place.
const requests::handler requests::handlers_[] = {
    {p::opcode::open, false, access::none, false, &requests::on_open},
    {p::opcode::send, true, access::write, true, &requests::on_send},
    {p::opcode::send_many, true, access::write, true, &requests::on_send_many},
    {p::opcode::receive, true, access::read, false, &requests::on_receive},
    {p::opcode::receive_many, true, access::read, false, &requests::on_receive_many},
    {p::opcode::peek, true, access::read, false, &requests::on_peek},
    {p::opcode::peek_at, true, access::read, false, &requests::on_peek_at},
    {p::opcode::list, true, access::read, false, &requests::on_list},
    {p::opcode::stat, true, access::read, false, &requests::on_stat},
    {p::opcode::set, true, access::owner, false, &requests::on_set},
    {p::opcode::remove, true, access::owner, false, &requests::on_remove},
    {p::opcode::info, false, access::none, false, &requests::on_info},
    {p::opcode::list_queues, false, access::none, false, &requests::on_list_queues},
    {p::opcode::stat_index, false, access::none, false, &requests::on_stat_index},
    // No reply of their own: they need no checks that would answer.
    {p::opcode::cancel, false, access::none, false, &requests::on_cancel},
    {p::opcode::release, false, access::none, false, &requests::on_release},
    {p::opcode::ack, false, access::none, false, &requests::on_ack},
    {p::opcode::ack_many, false, access::none, false, &requests::on_ack_many},
    {p::opcode::sync, false, access::none, false, &requests::on_sync},
    {p::opcode::attach, true, access::read, false, &requests::on_attach},
    {p::opcode::taken, false, access::none, false, &requests::on_taken},
    {p::opcode::wait_delivery, false, access::none, false, &requests::on_wait_delivery},
};

const requests::handler* requests::find_handler(p::opcode op) noexcept {
    for (const handler& h : handlers_)
        if (h.op == op)
            return &h;
    return nullptr;
}

requests::requests(const server_options& options, session_table& sessions, int poller)
    : options_(options), sessions_(sessions), budget_{0, 0},
      registry_({options.max_queues, options.default_capacity, options.max_queue_bytes,
                 options.max_message_size},
                budget_, *this),
      buffers_(spare_buffers_max, spare_bytes_max),
      max_request_(std::max<std::size_t>(options.max_message_size + 64, 512)), poller_(poller) {
    budget_.limit = options.max_memory;
    outgoing_.reserve(frame_header::size + max_request_ + 64);
}

result<void> requests::keep_in(persistence& store) {
    if (auto r = store.load(registry_); !r)
        return r;
    durable_ = &store;
    if (registry_.size() > 0) {
        std::size_t messages = 0;
        registry_.for_each([&](const model::hosted_queue& q) { messages += q.messages().count(); });
        log().info("state directory {}: {} queues, {} messages", store.info().directory.string(),
                   registry_.size(), messages);
    }
    return {};
}

// --- serving records ---------------------------------------------------------------------------

void requests::serve(session& c, const frame_header& h, std::span<const std::byte> body) {
    if (c.identity_changed) {
        // Credit and the delivery socket were given after a check of the ids c had then: with
        // other ids, its sends and receives are checked again (the client drops both too, and
        // ignores grants numbered before this record).
        c.identity_changed = false;
        zero_credit(c);
        c.revoke_pending = false;
        if (c.queue) {
            c.queue->admit_senders();
            if (c.attached)
                close_delivery(*c.queue);
        }
    }
    if (h.kind == frame_kind::data || h.kind == frame_kind::data_batch) {
        if (h.kind == frame_kind::data)
            on_data(c, h, body);
        else
            on_data_batch(c, h, body);
        if (c.queue)
            feed_later(*c.queue);
        return;
    }

    const auto op = static_cast<p::opcode>(h.type);
    const handler* found = find_handler(op);
    if (!found)
        return sessions_.fault(c, "unknown request opcode " + std::to_string(h.type));
    if (found->returns_credit) {
        zero_credit(c);
        c.revoke_pending = false;
    }
    request r{c, h.sequence, op, body, c.queue};
    if (found->needs_queue) {
        if (c.queue_removed)
            return (void)reply_error(c, op, h.sequence, EIDRM);
        if (!c.queue)
            return (void)reply_error(c, op, h.sequence, EINVAL); // no open yet
        const model::ipc_perm& perm = c.queue->perm();
        if ((found->needs == access::read && !model::permitted(c.who, perm, model::read_access)) ||
            (found->needs == access::write && !model::permitted(c.who, perm, model::write_access)))
            return (void)reply_error(c, op, h.sequence, EACCES);
        if (found->needs == access::owner && !model::owns(c.who, perm))
            return (void)reply_error(c, op, h.sequence, EPERM);
    }
    (this->*found->serve)(r);
    if (c.queue)
        feed_later(*c.queue);
}

void requests::forget(session& c) {
    stop_waiting_on_delivery(c, true);
    if (model::hosted_queue* q = c.queue) {
        q->forget(&c);
        q->unreserve(c.credit);
        c.credit = {};
        std::erase(bound_[q], &c);
        if (c.attached)
            count_attached(*q);
    }
    if (!c.transit.empty() && c.queue)
        take_back(*c.queue); // what comes back goes before the window's messages
    // Everything it held goes back at once (it is one queue's: a session binds one), so that
    // parked receivers are then offered the oldest each wants. (The buffers are not given back
    // to the pool: a departing client is not the steady state.)
    std::vector<in_transit> held;
    while (!c.transit.empty()) {
        held.push_back(std::move(c.transit.front()));
        c.transit.pop_front();
    }
    if (model::hosted_queue* q = held.empty() ? nullptr : registry_.find(held.front().queue_id)) {
        std::vector<model::message_view> back;
        for (const in_transit& t : held)
            back.push_back({t.type, t.arrival, t.sender, t.data});
        log().debug("queue {}: {} messages back from pid {}", q->id(), back.size(), c.peer.pid);
        q->put_back_all(back);
    } // (else the queue was removed meanwhile: so are its messages)
    if (c.queue) {
        c.queue->admit_senders();
        feed_later(*c.queue);
    }
}

// --- the delivery window -----------------------------------------------------------------------

delivery_socket* requests::delivery_of(const model::hosted_queue& q) const {
    auto it = deliveries_.find(&q);
    return it == deliveries_.end() ? nullptr : it->second.socket.get();
}

// What receivers took from the window since last asked leaves the queue (SIOCINQ: no read).
std::size_t requests::learn_taken(model::hosted_queue& q) {
    delivery_socket* d = delivery_of(q);
    if (!d || d->records() == 0)
        return 0;
    const auto t = d->taken();
    if (t.messages > 0)
        q.consumed(t.messages);
    return t.messages;
}

// Senders of q that could use more credit: room the receiver made goes to them at once, without
// waiting for their next send (which would otherwise be a request, a round trip).
bool requests::senders_short_of_credit(const model::hosted_queue& q) {
    for (const session* c : bound_[&q])
        if (c->sends && !c->no_credit && !c->dead && !c->revoke_pending &&
            c->credit.bytes < std::min(options_.credit_window, q.capacity() / 2) / 2)
            return true;
    return false;
}

// Reads back what is unread in the window: afterwards the queue holds every message its
// receiver did not take, and nothing is out in the socket. Exact even while the receiver reads:
// it drops any record after a gap (one the daemon read back), and those stay queued. (With two
// readers it would not be: one could take a newer record while an older one is read back. So
// one session at a time holds a queue's delivery socket.)
void requests::take_back(model::hosted_queue& q) {
    auto it = deliveries_.find(&q);
    if (it == deliveries_.end() || (it->second.socket->records() == 0 && q.window_count() == 0))
        return;
    returned_.clear();
    it->second.socket->reclaim(returned_);
    q.window_returned(returned_);
    feed_later(q);
}

// Before a receive on the request path: if what it would take is out in the window, take the
// window back, so that the receive sees the queue exactly as msgrcv would.
void requests::settle_for(model::hosted_queue& q, selector which) {
    if (q.window_count() == 0)
        return;
    learn_taken(q);
    if (const queued_message* m = q.find(which); m && q.in_window(*m))
        take_back(q);
}

void requests::count_attached(model::hosted_queue& q) {
    auto it = deliveries_.find(&q);
    if (it == deliveries_.end())
        return;
    delivery& d = it->second;
    const std::uint64_t was_buffer = d.buffer;
    const std::size_t was_attached = d.attached;
    d.attached = 0;
    d.buffer = UINT64_MAX;
    for (const session* c : bound_[&q])
        if (c->attached && !c->dead) {
            ++d.attached;
            d.buffer = std::min(d.buffer, c->fast_buffer);
        }
    if (d.attached == 0 || d.buffer < was_buffer)
        take_back(q); // nobody reads them, or they may be longer than its buffer now
    if (d.attached == 1 && was_attached != 1)
        d.socket->new_epoch(); // a new reader: its numbering starts afresh
    feed_later(q);
}

void requests::feed_later(model::hosted_queue& q) {
    if (deliveries_.contains(&q) &&
        std::find(to_feed_.begin(), to_feed_.end(), &q) == to_feed_.end())
        to_feed_.push_back(&q);
}

void requests::feed_all() {
    for (std::size_t i = 0; i < to_feed_.size(); ++i) // feed() may add more
        feed(*to_feed_[i]);
    to_feed_.clear();
}

// Copies the oldest messages not yet in the window into it, as far as the window takes them:
// its receiver drains a backlog with one recv per message and no daemon in between.
void requests::feed(model::hosted_queue& q) {
    auto it = deliveries_.find(&q);
    if (it == deliveries_.end())
        return;
    delivery& d = it->second;
    const bool room = learn_taken(q) > 0;
    q.admit_senders(); // room that receivers freed (here or since): to waiting senders first
    if (room)
        for (session* c : bound_[&q]) // then as credit
            if (c->sends)
                grant_credit(*c);
    const queued_message* next = q.next_to_feed();
    if (d.socket->asks() > 0 && (!next || next->size <= d.buffer))
        take_back(q); // the long message is gone: its asks are stale
    while (!d.socket->armed && d.attached > 0) {
        const queued_message* m = q.next_to_feed();
        if (!m)
            break;
        if (m->size > d.buffer) {
            // Too long for the receiver's buffer: it is sent to the request path instead,
            // where msgrcv's rules decide (E2BIG, and the message stays first).
            if (d.socket->asks() == 0 && d.socket->write_ask() == delivery_socket::written::full)
                d.socket->armed = true;
            break;
        }
        if (d.socket->write(*m) == delivery_socket::written::full) {
            d.socket->armed = true;
            break;
        }
        q.fed();
    }
    watch_delivery(q, d);
}

// What the daemon waits for on a delivery socket: room, when it is full; and while senders
// wait for room in the queue, every record a receiver takes (edge-triggered EPOLLOUT: the
// kernel signals each one), so that they are let in as msgsnd would be.
void requests::watch_delivery(const model::hosted_queue& q, delivery& d) {
    std::uint32_t want = 0;
    if (d.socket->armed)
        want = EPOLLOUT;
    else if (d.socket->records() > 0 &&
             (q.senders_waiting() || d.socket->asks() > 0 || senders_short_of_credit(q)))
        want = EPOLLOUT | EPOLLET;
    if (want == d.events)
        return;
    d.events = want;
    epoll_event ev{want, {.u64 = reinterpret_cast<std::uintptr_t>(&q) | delivery_tag}};
    ::epoll_ctl(poller_, EPOLL_CTL_MOD, d.socket->writing_end(), &ev);
}

void requests::on_writable(std::uint64_t tag) {
    auto* key = reinterpret_cast<model::hosted_queue*>(tag & ~delivery_tag);
    auto it = deliveries_.find(key);
    if (it == deliveries_.end())
        return; // closed this turn
    it->second.socket->armed = false;
    feed_later(*it->second.queue);
}

// Receivers holding the old socket see its end (recv returns 0) and ask again: permissions
// are checked anew, and what they had not read is back in the queue.
void requests::close_delivery(model::hosted_queue& q) {
    auto it = deliveries_.find(&q);
    if (it == deliveries_.end())
        return;
    take_back(q);
    for (session* c : bound_[&q]) {
        stop_waiting_on_delivery(*c, true);
        c->attached = false;
    }
    ::epoll_ctl(poller_, EPOLL_CTL_DEL, it->second.socket->writing_end(), nullptr);
    deliveries_.erase(it);
    std::erase(to_feed_, &q);
}

// --- replies -----------------------------------------------------------------------------------

model::waiter requests::waiter_of(const session& c, std::uint64_t seq, p::opcode op) const {
    return {&c, seq, std::uint32_t(op), c.peer.pid};
}

bool requests::reply_error(session& c, p::opcode op, std::uint64_t seq, int error) {
    p::start_reply(outgoing_, op, seq, error);
    return sessions_.deliver(c, outgoing_);
}

void requests::reply_sent(session& c, p::opcode op, std::uint64_t seq, std::size_t queued) {
    p::start_reply(outgoing_, op, seq, 0);
    if (op == p::opcode::send_many)
        p::writer(outgoing_).u64(queued);
    sessions_.deliver(c, outgoing_);
}

// A copy of `m` (peek, peek_at), or ENOMSG if there is none.
void requests::reply_copy(request& r, const queued_message* m) {
    if (!m)
        return (void)reply_error(r.c, r.op, r.seq, ENOMSG);
    p::start_reply(outgoing_, r.op, r.seq, 0);
    p::writer w(outgoing_);
    p::encode(w, p::message_body{m->type, m->arrival, m->sender_pid, m->size, m->payload()});
    sessions_.deliver(r.c, outgoing_);
}

// Sends entries as list parts, back to back: one snapshot, since nothing runs in between.
template <class Entries, class Encode>
void requests::reply_parts(session& c, p::opcode op, std::uint64_t seq, const Entries& entries,
                           Encode encode_one) {
    const auto total = std::uint32_t(entries.size());
    std::size_t next = 0;
    do {
        std::vector<std::byte> body;
        p::writer w(body);
        std::uint32_t count = 0;
        while (next < entries.size() && (count == 0 || body.size() < list_part_bytes)) {
            encode_one(w, entries[next++]);
            ++count;
        }
        auto r = p::start_reply(op, seq, 0);
        p::writer rw(r);
        p::encode(rw, p::list_part_header{total, count, next == entries.size()});
        rw.bytes(body);
        if (!sessions_.deliver(c, r))
            return;
    } while (next < entries.size());
}

// --- the model's completion ----------------------------------------------------------------------

std::size_t requests::unacked_room(const session& c) const noexcept {
    return options_.max_unacked > c.transit.size() ? options_.max_unacked - c.transit.size() : 0;
}

bool requests::hand_over(const model::waiter& w, std::size_t buffer, const model::message_view& m,
                         bool parked) {
    session& c = session_of(w);
    if (parked)
        --c.pending;
    const auto op = static_cast<p::opcode>(w.kind);
    if (c.dead || !c.queue)
        return false;
    if (unacked_room(c) == 0) {
        reply_error(c, op, w.request, ENOBUFS);
        return false;
    }
    p::start_reply(outgoing_, op, w.request, 0);
    p::writer out(outgoing_);
    const p::message_body body{m.type, m.arrival, m.sender, std::uint32_t(m.data.size()),
                               m.data.first(sysv::copied_size(m.data.size(), buffer))};
    if (op == p::opcode::receive_many) {
        p::encode(out, p::batch_header{1});
        p::encode_entry(out, body);
    } else {
        p::encode(out, body);
    }
    if (!sessions_.deliver(c, outgoing_))
        return false;
    c.transit.push_back({c.queue->id(), m.type, m.arrival, m.sender, buffers_.copy(m.data)});
    return true;
}

void requests::window_due(const model::waiter& w) {
    session& c = session_of(w);
    if (!c.queue)
        return;
    feed_later(*c.queue); // (it waits on, until it says it took a record)
}

void requests::fail(const model::waiter& w, int error) {
    session& c = session_of(w);
    if (static_cast<p::opcode>(w.kind) == p::opcode::wait_delivery) {
        // E2BIG goes to it through the delivery socket it waits on. (EIDRM: the socket
        // closes, and the client learns from `removed`.)
        auto d = c.queue ? deliveries_.find(c.queue) : deliveries_.end();
        if (error == E2BIG && d != deliveries_.end() &&
            d->second.socket->write_ask(p::opcode::too_long) == delivery_socket::written::full)
            log().warn("queue {}: delivery socket full, an E2BIG was not told", c.queue->id());
        return;
    }
    --c.pending;
    reply_error(c, static_cast<p::opcode>(w.kind), w.request, error);
}

void requests::sent(const model::waiter& w) {
    session& c = session_of(w);
    --c.pending;
    reply_sent(c, static_cast<p::opcode>(w.kind), w.request, 1);
}

void requests::credit_wanted(model::hosted_queue& q) {
    revoke_all(q);
}

// --- credit ------------------------------------------------------------------------------------

void requests::revoke_all(model::hosted_queue& q) {
    for (session* c : bound_[&q]) {
        if (c->dead || c->revoke_pending || (c->credit.bytes == 0 && c->credit.messages == 0))
            continue;
        c->revoke_pending = true;
        sessions_.notice(*c, p::opcode::revoke);
    }
}

void requests::zero_credit(session& c) {
    if (c.queue)
        c.queue->unreserve(c.credit);
    c.credit = {};
}

void requests::end_of_turn(session& c) {
    if (!c.sent_in_batch)
        return;
    if (c.queue)
        learn_taken(*c.queue); // room a receiver made counts
    grant_credit(c);
}

// (The caller has learned what receivers took from the delivery socket.)
void requests::grant_credit(session& c) {
    c.sent_in_batch = false;
    model::hosted_queue* q = c.queue;
    if (!q || c.dead || c.revoke_pending || c.no_credit)
        return;
    // Credit is a send checked in advance: only for the ids of c's last request.
    if (!model::permitted(c.who, q->perm(), model::write_access))
        return;
    if (durable_ && !durable_->room())
        return; // a full disk: sends go by request, and are refused there
    auto add = model::credit_to_grant(*q, c.credit, options_.credit_window);
    if (!add)
        return;
    c.credit.bytes += add->bytes;
    c.credit.messages += add->messages;
    q->reserve(*add);
    p::start_record(outgoing_, frame_kind::control_reply, std::int64_t(p::opcode::grant), 0);
    p::writer w(outgoing_);
    p::encode(w, p::grant_body{add->bytes, add->messages, c.next_sequence - 1});
    sessions_.deliver(c, outgoing_);
}

// Takes what c sends on credit out of its credit; false (and c is cut) if it exceeds it.
bool requests::spend_credit(session& c, model::queue_usage spent) {
    if (!c.queue || spent.bytes > c.credit.bytes || spent.messages > c.credit.messages) {
        sessions_.fault(c, c.queue ? "data record beyond the credit granted"
                                   : "data record before open");
        return false;
    }
    c.credit.bytes -= spent.bytes;
    c.credit.messages -= spent.messages;
    c.sent_in_batch = true;
    c.sends = true;
    return true;
}

// --- queues ------------------------------------------------------------------------------------

p::stat_body requests::stat_of(const model::hosted_queue& q) const {
    const model::queue_status st = q.status();
    p::stat_body s;
    s.id = q.id();
    s.mode = q.perm().mode;
    s.uid = q.perm().uid;
    s.gid = q.perm().gid;
    s.cuid = q.perm().cuid;
    s.cgid = q.perm().cgid;
    s.count = st.count;
    s.bytes = st.bytes;
    s.capacity = st.capacity;
    s.max_message_size = q.max_message_size();
    s.last_send_pid = st.last_send_pid;
    s.last_receive_pid = st.last_receive_pid;
    s.send_time = st.send_time;
    s.receive_time = st.receive_time;
    s.change_time = st.change_time;
    s.waiting_receivers = std::uint32_t(st.waiting_receivers);
    s.waiting_senders = std::uint32_t(st.waiting_senders);
    s.name = q.name();
    return s;
}

void requests::remove_queue(model::hosted_queue& q) {
    q.remove(); // EIDRM to every waiter
    auto bound = std::move(bound_[&q]);
    bound_.erase(&q);
    for (session* c : bound) {
        c->queue = nullptr;
        c->queue_removed = true;
        c->credit = {};
        sessions_.notice(*c, p::opcode::removed);
    }
    close_delivery(q); // after the notices: its receivers see the end, then `removed`
    log().info("queue {} ({}) removed", q.id(), q.name().empty() ? "private" : log_text(q.name()));
    registry_.erase(q); // q is gone
}

void requests::acknowledge(session& c, std::size_t count) {
    model::queue_usage done{};
    const std::uint64_t queue_id = c.transit.front().queue_id;
    model::hosted_queue* q = registry_.find(queue_id);
    for (std::size_t i = 0; i < count; ++i) {
        if (q)
            q->delivered(c.transit.front().arrival); // gone from the state directory too
        done.bytes += c.transit.front().data.size();
        ++done.messages;
        buffers_.give_back(std::move(c.transit.front().data));
        c.transit.pop_front();
    }
    if (q)
        q->acknowledge(done);
}

// --- handlers ----------------------------------------------------------------------------------

void requests::on_open(request& r) {
    auto req = p::decode_open_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed open request");
    if (r.c.queue || r.c.queue_removed)
        return (void)reply_error(r.c, r.op, r.seq, EISCONN);
    model::open_params want;
    if (req->flags & p::open_by_id) {
        want.how = model::open_params::by::id;
        want.id = req->id;
    } else if (req->flags & p::open_private) {
        want.how = model::open_params::by::none;
    } else {
        want.name = req->name;
    }
    want.create = req->flags & p::open_create;
    want.exclusive = req->flags & p::open_exclusive;
    want.mode = req->mode;
    want.capacity = req->capacity;
    bool created = false;
    auto q = registry_.open(want, r.c.who, created);
    if (!q) {
        if (std::uint64_t left_out = 0; q.error() == ENOSPC && refusal_lines_.allow(left_out))
            log().warn("pid {}: no queue created: {} queues is the limit (--max-queues){}",
                       r.c.peer.pid, options_.max_queues, lines_left_out(left_out));
        return (void)reply_error(r.c, r.op, r.seq, q.error());
    }
    if (created)
        log().info("queue {} ({}) created by uid {} pid {}, mode {:03o}, {} bytes", (*q)->id(),
                   (*q)->name().empty() ? "private" : log_text((*q)->name()), r.c.peer.uid,
                   r.c.peer.pid, (*q)->perm().mode, (*q)->capacity());
    r.c.queue = *q;
    r.c.no_credit = req->flags & p::open_no_credit;
    bound_[*q].push_back(&r.c);
    p::start_reply(outgoing_, r.op, r.seq, 0);
    p::writer w(outgoing_);
    p::encode(w, p::open_reply{(*q)->id(), options_.max_message_size, (*q)->capacity()});
    sessions_.deliver(r.c, outgoing_);
}

// A send request of one message (send) or several (send_many), made without credit: they enter
// the queue in order while each fits, as msgsnd decides it; if the first does not, it waits in
// the daemon for room (EAGAIN with nowait).
void requests::send_requested(request& r, std::span<const batch_entry> messages, bool nowait) {
    r.c.sent_in_batch = true;
    r.c.sends = true;
    learn_taken(*r.q); // room receivers made, before msgsnd's check
    if (durable_ && !durable_->room()) {
        // The disk is full: what is queued stays, sends are refused until there is room.
        if (std::uint64_t left_out = 0; refusal_lines_.allow(left_out))
            log().warn("queue {}: send refused: no room on the disk for the state directory "
                       "{}{}",
                       r.q->id(), durable_->info().directory.string(), lines_left_out(left_out));
        return (void)reply_error(r.c, r.op, r.seq, ENOSPC);
    }
    const model::outcome o = r.q->send(waiter_of(r.c, r.seq, r.op), messages, nowait,
                                       r.c.pending < options_.max_pending);
    if (o.queued > 0)
        return reply_sent(r.c, r.op, r.seq, o.queued);
    if (o.parked) {
        ++r.c.pending;
        return;
    }
    if (std::uint64_t left_out = 0; o.error == ENOMEM && refusal_lines_.allow(left_out))
        log().warn("queue {}: send refused: the daemon's memory limit (--max-memory, {} bytes) "
                   "is reached{}",
                   r.q->id(), options_.max_memory, lines_left_out(left_out));
    reply_error(r.c, r.op, r.seq, o.error);
}

void requests::on_send(request& r) {
    auto req = p::decode_send_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed send request");
    switch (sysv::check_send(long(req->type), req->text.size(), options_.max_message_size)) {
    case sysv::send_check::too_long:
        return (void)reply_error(r.c, r.op, r.seq, EMSGSIZE);
    case sysv::send_check::bad_type:
        return (void)reply_error(r.c, r.op, r.seq, EINVAL);
    case sysv::send_check::ok:
        break;
    }
    const batch_entry one{long(req->type), req->text};
    send_requested(r, std::span(&one, 1), req->flags & p::op_nowait);
}

void requests::on_send_many(request& r) {
    auto req = p::decode_send_many_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed send_many request");
    if (auto split = split_batch(req->entries, req->count, options_.max_message_size, batch_);
        !split)
        return sessions_.fault(r.c, "send_many: " + std::string(to_string(split.error())));
    send_requested(r, batch_, req->flags & p::op_nowait);
}

void requests::on_data(session& c, const frame_header& h, std::span<const std::byte> text) {
    if (c.queue_removed)
        return; // sent on credit before the removal reached the client: gone with the queue
    if (spend_credit(c, {text.size(), 1}))
        c.queue->send_reserved(c.peer.pid, long(h.type), text);
}

// Several credited sends in one record (queue::send_many): each enters the queue on its own.
void requests::on_data_batch(session& c, const frame_header& h,
                             std::span<const std::byte> payload) {
    if (auto split = split_batch(payload, std::uint64_t(h.type), options_.max_message_size, batch_);
        !split)
        return sessions_.fault(c, to_string(split.error()));
    if (c.queue_removed)
        return;
    model::queue_usage spent{0, batch_.size()};
    for (const auto& e : batch_)
        spent.bytes += e.payload.size();
    if (!spend_credit(c, spent))
        return;
    for (const auto& e : batch_)
        c.queue->send_reserved(c.peer.pid, e.type, e.payload);
}

void requests::on_receive(request& r) {
    auto req = p::decode_receive_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed receive request");
    if (unacked_room(r.c) == 0)
        return (void)reply_error(r.c, r.op, r.seq, ENOBUFS);
    const selector which{long(req->type), (req->flags & p::op_except) != 0};
    settle_for(*r.q, which);
    const model::outcome o =
        r.q->receive(waiter_of(r.c, r.seq, r.op), which, req->buffer, req->flags & p::op_noerror,
                     req->flags & p::op_nowait, r.c.pending < options_.max_pending);
    if (o.parked)
        ++r.c.pending;
    else if (o.error)
        reply_error(r.c, r.op, r.seq, o.error);
}

// Takes as many messages as successive receives would, in one reply: while the next one `which`
// selects fits what is left of the client's buffer and of one reply record.
void requests::on_receive_many(request& r) {
    auto req = p::decode_receive_many_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed receive_many request");
    const std::size_t room = unacked_room(r.c);
    if (room == 0)
        return (void)reply_error(r.c, r.op, r.seq, ENOBUFS);
    const selector which{long(req->type), (req->flags & p::op_except) != 0};
    const bool noerror = req->flags & p::op_noerror;
    settle_for(*r.q, which);
    const queued_message* m = r.q->find(which);
    if (!m) { // nothing yet: ENOMSG, or wait as a receive of one does
        const model::outcome o =
            r.q->receive(waiter_of(r.c, r.seq, r.op), which, req->buffer, noerror,
                         req->flags & p::op_nowait, r.c.pending < options_.max_pending);
        if (o.parked)
            ++r.c.pending;
        else if (o.error)
            reply_error(r.c, r.op, r.seq, o.error);
        return;
    }
    if (sysv::take_rule(m->size, req->buffer, noerror) == sysv::take_outcome::too_big)
        return (void)reply_error(r.c, r.op, r.seq, E2BIG);
    p::start_reply(outgoing_, r.op, r.seq, 0);
    const std::size_t count_at = outgoing_.size();
    p::writer w(outgoing_);
    p::encode(w, p::batch_header{1}); // the count is filled in below
    std::uint64_t left = req->buffer;
    const std::uint64_t most = std::min<std::uint64_t>(req->count, room);
    std::uint32_t taken = 0;
    do {
        const std::size_t data = sysv::copied_size(m->size, left);
        p::encode_entry(w, p::message_body{m->type, m->arrival, m->sender_pid,
                                           std::uint32_t(m->size), m->payload().first(data)});
        // Held until acknowledged, and given back to the queue if the client goes away first
        // (also when this reply cannot be delivered: the client is then freed).
        r.c.transit.push_back(
            {r.q->id(), m->type, m->arrival, m->sender_pid, buffers_.copy(m->payload())});
        left -= data;
        ++taken;
        r.q->take(*m, r.c.peer.pid);
        m = taken < most ? r.q->find(which) : nullptr;
        if (m && r.q->in_window(*m)) { // (lowest-type: an older message of a higher type)
            take_back(*r.q);
            m = r.q->find(which);
        }
    } while (m && m->size <= left &&
             outgoing_.size() + batch_entry_header + m->size <= list_part_bytes);
    put_big_endian(outgoing_.data() + count_at, taken);
    sessions_.deliver(r.c, outgoing_);
    r.q->admit_senders();
}

void requests::on_peek(request& r) {
    auto req = p::decode_peek_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed peek request");
    learn_taken(*r.q);
    reply_copy(r, r.q->find(selector{long(req->type), (req->flags & p::op_except) != 0}));
}

void requests::on_peek_at(request& r) {
    auto position = p::decode_u64(r.body);
    if (!position)
        return sessions_.fault(r.c, "malformed peek_at request");
    learn_taken(*r.q);
    reply_copy(r, r.q->at(*position));
}

void requests::on_list(request& r) {
    auto req = p::decode_list_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed list request");
    learn_taken(*r.q);
    const message_store& store = r.q->messages();
    std::vector<const queued_message*> all;
    all.reserve(store.count());
    for (const queued_message* m = store.oldest(); m; m = store.after(m))
        all.push_back(m);
    const std::size_t max_data =
        (req->flags & p::list_with_data) ? std::min<std::size_t>(req->max_data, 65536) : 0;
    reply_parts(r.c, r.op, r.seq, all, [&](p::writer& w, const queued_message* m) {
        p::encode_entry(
            w, p::message_body{m->type, m->arrival, m->sender_pid, m->size,
                               m->payload().first(std::min<std::size_t>(m->size, max_data))});
    });
}

void requests::on_stat(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed stat request");
    learn_taken(*r.q);
    p::start_reply(outgoing_, r.op, r.seq, 0);
    p::writer w(outgoing_);
    p::encode(w, stat_of(*r.q));
    sessions_.deliver(r.c, outgoing_);
}

void requests::on_set(request& r) {
    auto req = p::decode_set_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed set request");
    if ((req->which & p::set_mode) && (req->mode & ~0777u))
        return (void)reply_error(r.c, r.op, r.seq, EINVAL);
    std::size_t capacity = r.q->capacity();
    if (req->which & p::set_capacity) {
        if (req->capacity > options_.max_queue_bytes && !r.c.who.is_root())
            return (void)reply_error(r.c, r.op, r.seq, EPERM);
        capacity = req->capacity;
    }
    model::ipc_perm perm = r.q->perm();
    if (req->which & p::set_mode)
        perm.mode = req->mode;
    if (req->which & p::set_uid)
        perm.uid = req->uid;
    if (req->which & p::set_gid)
        perm.gid = req->gid;
    reply_error(r.c, r.op, r.seq, 0);
    const model::ipc_perm& was = r.q->perm();
    if (perm.mode != was.mode || perm.uid != was.uid || perm.gid != was.gid)
        close_delivery(*r.q); // read access may be gone: receivers ask anew
    r.q->set(perm, capacity);
}

void requests::on_remove(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed remove request");
    reply_error(r.c, r.op, r.seq, 0);
    remove_queue(*r.q);
}

void requests::on_info(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed info request");
    for (auto& [q, _] : deliveries_)
        learn_taken(*const_cast<model::hosted_queue*>(q));
    p::info_body i;
    i.queues = registry_.size();
    registry_.for_each([&](const model::hosted_queue& q) {
        i.messages += q.messages().count();
        i.bytes += q.messages().bytes();
    });
    i.clients = sessions_.size();
    i.protocol_errors = sessions_.protocol_errors();
    i.max_queues = options_.max_queues;
    i.max_queue_bytes = options_.max_queue_bytes;
    i.max_message_size = options_.max_message_size;
    i.max_clients = options_.max_clients;
    i.memory = budget_.used;
    i.max_memory = budget_.limit;
    i.default_capacity = options_.default_capacity;
    if (auto highest = registry_.highest_index())
        i.highest_index = *highest;
    if (durable_) {
        const durable::store_info st = durable_->info();
        i.sync_policy = st.sync == durable::sync_policy::always  ? 1
                        : st.sync == durable::sync_policy::batch ? 2
                                                                 : 3;
        i.sync_interval_ms = std::uint32_t(options_.sync_interval.count());
        i.store_bytes = st.file_bytes;
        i.store_used = st.used_bytes;
        i.last_sync =
            std::chrono::duration_cast<std::chrono::nanoseconds>(st.last_sync.time_since_epoch())
                .count();
        i.state_dir = st.directory.string();
    }
    p::start_reply(outgoing_, r.op, r.seq, 0);
    p::writer w(outgoing_);
    p::encode(w, i);
    sessions_.deliver(r.c, outgoing_);
}

void requests::on_list_queues(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed list_queues request");
    for (auto& [q, _] : deliveries_)
        learn_taken(*const_cast<model::hosted_queue*>(q));
    std::vector<p::stat_body> all;
    registry_.for_each([&](const model::hosted_queue& q) {
        if (model::permitted(r.c.who, q.perm(), model::read_access)) // as MSG_STAT
            all.push_back(stat_of(q));
    });
    reply_parts(r.c, r.op, r.seq, all,
                [](p::writer& w, const p::stat_body& s) { p::encode(w, s); });
}

// MSG_STAT and MSG_STAT_ANY (msgctl_stat): the queue at an index whatever its sequence number;
// EINVAL before EACCES, as Linux.
void requests::on_stat_index(request& r) {
    auto req = p::decode_stat_index_request(r.body);
    if (!req)
        return sessions_.fault(r.c, "malformed stat_index request");
    model::hosted_queue* q = registry_.at_index(model::msqid_allocator::index_of(req->index));
    if (!q)
        return (void)reply_error(r.c, r.op, r.seq, EINVAL);
    if (!(req->flags & p::stat_any) && !model::permitted(r.c.who, q->perm(), model::read_access))
        return (void)reply_error(r.c, r.op, r.seq, EACCES);
    learn_taken(*q);
    p::start_reply(outgoing_, r.op, r.seq, 0);
    p::writer w(outgoing_);
    p::encode(w, stat_of(*q));
    sessions_.deliver(r.c, outgoing_);
}

void requests::on_cancel(request& r) {
    auto target = p::decode_u64(r.body);
    if (!target)
        return sessions_.fault(r.c, "malformed cancel request");
    if (r.c.queue)                        // (gone: the wait was answered with EIDRM)
        r.c.queue->cancel(&r.c, *target); // not waiting: its answer is already on the way
}

void requests::on_release(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed release");
    zero_credit(r.c);
    r.c.revoke_pending = false;
    if (r.c.queue)
        r.c.queue->admit_senders();
}

void requests::on_ack(request& r) {
    auto arrival = p::decode_u64(r.body);
    if (!arrival)
        return sessions_.fault(r.c, "malformed ack");
    if (r.c.transit.empty() || r.c.transit.front().arrival != *arrival)
        return sessions_.fault(r.c, "ack of a message not handed over");
    acknowledge(r.c, 1);
}

void requests::on_ack_many(request& r) {
    auto ack = p::decode_ack_many(r.body);
    if (!ack)
        return sessions_.fault(r.c, "malformed ack_many");
    if (ack->count == 0 || ack->count > r.c.transit.size() ||
        r.c.transit.at(std::size_t(ack->count) - 1).arrival != ack->last_arrival)
        return sessions_.fault(r.c, "ack of messages not handed over");
    acknowledge(r.c, std::size_t(ack->count));
}

void requests::on_attach(request& r) {
    auto buffer = p::decode_u64(r.body);
    if (!buffer)
        return sessions_.fault(r.c, "malformed attach request");
    if (!r.c.via->passes_descriptors() || options_.delivery_window == 0)
        return (void)reply_error(r.c, r.op, r.seq, EOPNOTSUPP);
    auto it = deliveries_.find(r.q);
    if (it == deliveries_.end()) {
        auto made = delivery_socket::create(options_.delivery_window);
        if (!made) {
            log().warn("queue {}: no delivery socket: {}", r.q->id(), made.error().message());
            return (void)reply_error(r.c, r.op, r.seq, made.error().value());
        }
        epoll_event ev{0, {.u64 = reinterpret_cast<std::uintptr_t>(r.q) | delivery_tag}};
        if (::epoll_ctl(poller_, EPOLL_CTL_ADD, (*made)->writing_end(), &ev) < 0)
            return (void)reply_error(r.c, r.op, r.seq, errno);
        it = deliveries_.emplace(r.q, delivery{std::move(*made), r.q}).first;
    }
    if (!r.c.attached && it->second.attached > 0)
        return (void)reply_error(r.c, r.op, r.seq, EBUSY); // another receiver holds it
    // Before the reply, while this client waits for it and reads nothing: a smaller buffer
    // takes back records that may be longer than it now.
    r.c.attached = true;
    r.c.fast_buffer = *buffer;
    count_attached(*r.q);
    p::start_reply(outgoing_, r.op, r.seq, 0);
    if (!sessions_.deliver_with_descriptor(r.c, outgoing_, it->second.socket->reading_end())) {
        r.c.attached = false;
        count_attached(*r.q);
    }
}

void requests::on_taken(request& r) {
    p::reader in(r.body);
    const std::uint64_t count = in.u64();
    const std::uint32_t bits = in.u32();
    const std::uint32_t zero = in.u32();
    if (!in.done() || zero != 0 || (bits & ~std::uint32_t(p::taken_wait_ended | p::taken_gave_up)))
        return sessions_.fault(r.c, "malformed taken notice");
    if (!r.c.queue)
        return;
    if (bits)
        stop_waiting_on_delivery(r.c, bits & p::taken_gave_up);
    if (count > 0)
        r.c.queue->note_receiver(r.c.peer.pid);
    learn_taken(*r.c.queue);
    r.c.queue->admit_senders();
}

void requests::on_wait_delivery(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed wait_delivery notice");
    model::hosted_queue* q = r.c.queue;
    if (!q || !r.c.attached || r.c.waits_on_delivery)
        return;
    if (!deliveries_.contains(q))
        return;
    r.c.waits_on_delivery = true;
    learn_taken(*q);
    if (q->window_count() > 0 || q->next_to_feed())
        return; // there is, or will be, a record for it
    // Nothing queued: it waits among the parked receivers, in order.
    q->wait_for_window(waiter_of(r.c, r.seq, r.op), r.c.fast_buffer);
}

void requests::stop_waiting_on_delivery(session& c, bool gave_up) {
    if (!c.waits_on_delivery)
        return;
    c.waits_on_delivery = false;
    if (!c.queue)
        return;
    c.queue->end_window_wait(&c, gave_up);
}

void requests::on_sync(request& r) {
    if (!r.body.empty())
        return sessions_.fault(r.c, "malformed sync request");
    reply_error(r.c, r.op, r.seq, 0);
}

} // namespace seqmq::daemon

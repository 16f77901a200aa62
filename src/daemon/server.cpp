#include "daemon/server.hpp"

#include "core/stash.hpp"
#include "log.hpp"
#include "transport/transport.hpp"
#include "wire/byte_order.hpp"
#include "wire/daemon_protocol.hpp"
#include "wire/frame.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <memory_resource>
#include <optional>
#include <sched.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

namespace seqmq::daemon {

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;

namespace {

constexpr std::uint64_t stop_tag = 1;
constexpr std::uint64_t first_listener_tag = 2; // listener i: 2 + i; clients: their address
constexpr int batch_records = 64;               // records read from one client per wakeup
constexpr std::size_t list_part_bytes = 60000;  // a list reply part stays far below SO_SNDBUF
constexpr std::size_t batch_entry_header = 28;  // i64 type, u64 arrival, i32 pid, u32 size, u32 n
// Buffers of acknowledged messages kept for the next ones in transit: enough for the largest
// receive_many reply (list_part_bytes / batch_entry_header entries), within a memory bound.
constexpr std::size_t spare_buffers_max = list_part_bytes / batch_entry_header + 1;
constexpr std::size_t spare_bytes_max = 4 << 20;
constexpr std::size_t read_slots_max = 16;      // records taken by one recvmmsg, at most
constexpr std::size_t read_bytes_max = 1 << 20; // ... and their buffers' total size

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct client;

struct parked_receive {
    client* who;
    std::uint64_t sequence;
    selector which;
    std::uint64_t buffer;
    bool noerror;
    p::opcode op; // receive, or receive_many (answered with a batch of one)
};

struct parked_send {
    client* who;
    std::uint64_t sequence;
    long type;
    std::vector<std::byte> text;
    p::opcode op; // send, or send_many (answered: 1 queued)
};

struct hosted_queue {
    std::uint64_t id = 0;
    std::string name; // empty: private
    unsigned mode = 0;
    uid_t uid = 0, cuid = 0;
    gid_t gid = 0, cgid = 0;
    std::size_t capacity = 0;
    std::unique_ptr<message_store> store;
    std::uint64_t next_arrival = 1;
    pid_t last_send_pid = 0, last_receive_pid = 0;
    std::int64_t send_time = 0, receive_time = 0, change_time = 0;
    // Parked waits come and go with every receive that finds nothing: their list nodes come from
    // a pool, so parking does not call the heap in the steady state.
    std::pmr::unsynchronized_pool_resource waits_pool;
    std::pmr::list<parked_receive> receivers{&waits_pool}; // oldest waiter first
    std::pmr::list<parked_send> senders{&waits_pool};
    std::size_t reserved_bytes = 0, reserved_messages = 0; // credit held by clients
    std::vector<client*> clients;                          // connections bound to it
};

// A message handed to a client but not yet acknowledged: it goes back to its queue, at its
// original place, if the client goes away first.
struct in_transit {
    std::uint64_t queue_id;
    long type;
    std::uint64_t arrival;
    pid_t sender;
    std::vector<std::byte> data;
};

// The messages a client holds unacknowledged, oldest first. Acks come in order, so this is a
// queue; a vector with a moving head, compacted now and then, reuses its storage (a deque would
// allocate and free a block every few messages).
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

struct client {
    unique_fd fd;
    peer_identity peer;
    std::vector<gid_t> groups; // supplementary groups, when the transport tells
    const transport* via = nullptr;
    std::uint64_t next_sequence = 1;
    hosted_queue* queue = nullptr;
    bool queue_removed = false;
    std::size_t credit_bytes = 0, credit_messages = 0;
    bool revoke_pending = false;
    bool sent_in_batch = false;
    std::size_t pending = 0; // parked requests
    transit_queue transit;
    std::deque<std::vector<std::byte>> out; // replies the socket could not take yet
    std::size_t out_bytes = 0;
    bool want_out = false;
    bool dead = false;
};

} // namespace

struct server::impl {
    server_options options;
    std::vector<std::pair<address, const transport*>> listen_at;
    std::vector<unique_fd> listeners;
    unique_fd poller;
    std::unordered_map<client*, std::unique_ptr<client>> clients;
    std::vector<client*> doomed;
    std::map<std::uint64_t, std::unique_ptr<hosted_queue>> queues;
    std::unordered_map<std::string, hosted_queue*> by_name;
    std::uint64_t next_queue_id = 1;
    std::uint64_t protocol_errors = 0;
    // Records are read by recvmmsg into `slots` buffers of `slot_size` bytes, each room for the
    // largest request and one byte more (to see one longer). One call takes every record
    // waiting, up to the slots, and a short count tells the socket is empty: no EAGAIN read.
    std::size_t slot_size;
    std::size_t slots;
    std::vector<std::byte> in;
    std::vector<iovec> in_iov;
    std::vector<mmsghdr> in_msgs;
    std::size_t max_request;         // largest request payload accepted
    std::vector<std::byte> outgoing; // the record being built: every reply and notice starts here
    std::vector<std::vector<std::byte>> spare; // buffers of acknowledged messages, for reuse
    std::size_t spare_bytes = 0;               // their capacity in all
    std::vector<batch_entry> batch;            // the messages of the data_batch being served

    explicit impl(const server_options& o)
        : options(o),
          slot_size(frame_header::size + std::max<std::size_t>(o.max_message_size + 64, 512) + 1),
          slots(std::clamp<std::size_t>(read_bytes_max / slot_size, 1, read_slots_max)),
          in(slot_size * slots), in_iov(slots), in_msgs(slots) {
        max_request = slot_size - frame_header::size - 1;
        outgoing.reserve(slot_size + 64);
        spare.reserve(spare_buffers_max);
        for (std::size_t i = 0; i < slots; ++i) {
            in_iov[i] = {in.data() + i * slot_size, slot_size};
            in_msgs[i] = {};
            in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
            in_msgs[i].msg_hdr.msg_iovlen = 1;
        }
    }

    // A buffer for a copy of a message in transit; given back by release_buffer on its ack.
    std::vector<std::byte> take_buffer(std::span<const std::byte> data) {
        std::vector<std::byte> b;
        if (!spare.empty()) {
            b = std::move(spare.back());
            spare.pop_back();
            spare_bytes -= b.capacity();
        }
        b.assign(data.begin(), data.end());
        return b;
    }
    void release_buffer(std::vector<std::byte>&& b) {
        if (spare.size() < spare_buffers_max && spare_bytes + b.capacity() <= spare_bytes_max &&
            b.capacity() != 0) {
            spare_bytes += b.capacity();
            spare.push_back(std::move(b));
        }
    }

    ~impl() {
        for (auto& [_, c] : clients)
            c->via->close_connection(std::move(c->fd));
        listeners.clear();
        for (auto& [where, via] : listen_at)
            via->unbind(where);
    }

    // --- permissions, as the kernel's ipcperms and ipcctl_obtain_check ------------------------

    bool in_group(const client& c, gid_t g) const {
        return c.peer.gid == g || std::find(c.groups.begin(), c.groups.end(), g) != c.groups.end();
    }

    bool is_root(const client& c) const { return c.peer.has_credentials && c.peer.uid == 0; }

    // `flag` as msgget's: the requested bits are taken from all three triplets.
    bool permitted(const client& c, const hosted_queue& q, unsigned flag) const {
        if (is_root(c))
            return true;
        unsigned requested = (flag >> 6) | (flag >> 3) | flag;
        unsigned granted = q.mode;
        if (c.peer.has_credentials && (c.peer.uid == q.cuid || c.peer.uid == q.uid))
            granted >>= 6;
        else if (c.peer.has_credentials && (in_group(c, q.cgid) || in_group(c, q.gid)))
            granted >>= 3;
        return (requested & ~granted & 0007) == 0;
    }

    bool owns(const client& c, const hosted_queue& q) const {
        return is_root(c) ||
               (c.peer.has_credentials && (c.peer.uid == q.cuid || c.peer.uid == q.uid));
    }

    // --- output --------------------------------------------------------------------------------

    void update_events(client& c) {
        epoll_event ev{EPOLLIN | (c.want_out ? EPOLLOUT : 0u),
                       {.u64 = reinterpret_cast<std::uintptr_t>(&c)}};
        ::epoll_ctl(poller.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    }

    // Sends one record, or queues it behind those the socket could not take yet.
    // Returns false if the client is gone (the record was not delivered).
    bool deliver_record(client& c, std::vector<std::byte>& record) {
        if (c.dead)
            return false;
        p::finish_record(record);
        if (c.out.empty()) {
            ssize_t n = retry_eintr([&] {
                return ::send(c.fd.get(), record.data(), record.size(),
                              MSG_DONTWAIT | MSG_NOSIGNAL);
            });
            if (n >= 0)
                return true;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log().debug("client pid {}: send: {}", c.peer.pid, last_error().message());
                doom(c);
                return false;
            }
        }
        c.out_bytes += record.size();
        c.out.emplace_back(record.begin(), record.end()); // a copy: `record` is reused
        if (c.out_bytes > options.max_output) {
            log().warn("client pid {}: cut: {} bytes of replies unread (--max-output)", c.peer.pid,
                       c.out_bytes);
            doom(c);
            return true; // it reached the client's connection; transit covers it
        }
        if (!c.want_out) {
            c.want_out = true;
            update_events(c);
        }
        return true;
    }

    void flush(client& c) {
        while (!c.out.empty()) {
            auto& r = c.out.front();
            ssize_t n = retry_eintr([&] {
                return ::send(c.fd.get(), r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            });
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    doom(c);
                return;
            }
            c.out_bytes -= r.size();
            c.out.pop_front();
        }
        c.want_out = false;
        update_events(c);
    }

    bool reply_error(client& c, p::opcode op, std::uint64_t seq, int error) {
        p::start_reply(outgoing, op, seq, error);
        return deliver_record(c, outgoing);
    }

    bool reply_empty(client& c, p::opcode op, std::uint64_t seq) {
        return reply_error(c, op, seq, 0);
    }

    void notice(client& c, p::opcode op) {
        p::start_record(outgoing, frame_kind::control_reply, std::int64_t(op), 0);
        deliver_record(c, outgoing);
    }

    void closing_notice(int fd, int reason) {
        auto r = p::start_record(frame_kind::control_reply, std::int64_t(p::opcode::closing), 0);
        p::writer(r).i32(reason).u32(0);
        p::finish_record(r);
        (void)retry_eintr(
            [&] { return ::send(fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL); });
    }

    // --- clients -------------------------------------------------------------------------------

    void doom(client& c) {
        if (!c.dead) {
            c.dead = true;
            doomed.push_back(&c);
        }
    }

    void fault(client& c, std::string_view why) {
        if (c.dead)
            return;
        ++protocol_errors;
        log().warn("client pid {} uid {}: cut the connection: {}", c.peer.pid, c.peer.uid, why);
        closing_notice(c.fd.get(), EPROTO);
        doom(c);
    }

    void accept_all(int listener, const transport* via) {
        for (;;) {
            auto fd = accept_connection(listener);
            if (!fd) {
                if (fd.error() != std::errc::resource_unavailable_try_again)
                    log().warn("accept: {}", fd.error().message());
                return;
            }
            if (clients.size() >= options.max_clients) {
                log().warn("refused a connection: {} clients is the limit (--max-clients)",
                           options.max_clients);
                closing_notice(fd->get(), EUSERS);
                via->close_connection(std::move(*fd));
                continue;
            }
            auto c = std::make_unique<client>();
            c->fd = std::move(*fd);
            c->via = via;
            c->peer = via->peer(c->fd.get());
            read_groups(*c);
            epoll_event ev{EPOLLIN, {.u64 = reinterpret_cast<std::uintptr_t>(c.get())}};
            if (::epoll_ctl(poller.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) < 0) {
                log().warn("epoll_ctl: {}", last_error().message());
                continue;
            }
            log().debug("client pid {} uid {} connected", c->peer.pid, c->peer.uid);
            client* key = c.get();
            clients.emplace(key, std::move(c));
        }
    }

    void read_groups(client& c) {
        if (!c.peer.has_credentials)
            return;
        std::vector<gid_t> g(64);
        socklen_t len = socklen_t(g.size() * sizeof(gid_t));
        if (::getsockopt(c.fd.get(), SOL_SOCKET, SO_PEERGROUPS, g.data(), &len) < 0 &&
            errno == ERANGE) {
            g.resize(len / sizeof(gid_t));
            if (::getsockopt(c.fd.get(), SOL_SOCKET, SO_PEERGROUPS, g.data(), &len) < 0)
                return;
        } else if (len > g.size() * sizeof(gid_t)) {
            return;
        }
        g.resize(len / sizeof(gid_t));
        c.groups = std::move(g);
    }

    // Forgets a client: its waits, its credit; what it was handed and did not acknowledge goes
    // back to the queues.
    void bury(client& c) {
        if (hosted_queue* q = c.queue) {
            std::erase_if(q->receivers, [&](const parked_receive& r) { return r.who == &c; });
            std::erase_if(q->senders, [&](const parked_send& s) { return s.who == &c; });
            q->reserved_bytes -= c.credit_bytes;
            q->reserved_messages -= c.credit_messages;
            std::erase(q->clients, &c);
        }
        while (!c.transit.empty()) {
            in_transit t = std::move(c.transit.front());
            c.transit.pop_front();
            // (t.data is not given back to spare: a departing client is not the steady state)
            auto it = queues.find(t.queue_id);
            if (it == queues.end())
                continue; // the queue was removed meanwhile: so are its messages
            log().debug("queue {}: message {} back from pid {}", it->second->id, t.arrival,
                        c.peer.pid);
            return_message(*it->second, std::move(t));
        }
        ::epoll_ctl(poller.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        c.via->close_connection(std::move(c.fd));
        if (hosted_queue* q = c.queue)
            admit_senders(*q);
        log().debug("client pid {} gone", c.peer.pid);
    }

    void bury_doomed() {
        while (!doomed.empty()) {
            std::vector<client*> now;
            now.swap(doomed);
            for (client* c : now) {
                bury(*c);
                clients.erase(c);
            }
        }
    }

    // --- queues --------------------------------------------------------------------------------

    p::stat_body stat_of(const hosted_queue& q) const {
        p::stat_body s;
        s.id = q.id;
        s.mode = q.mode;
        s.uid = q.uid;
        s.gid = q.gid;
        s.cuid = q.cuid;
        s.cgid = q.cgid;
        s.count = q.store->count();
        s.bytes = q.store->bytes();
        s.capacity = q.capacity;
        s.max_message_size = options.max_message_size;
        s.last_send_pid = q.last_send_pid;
        s.last_receive_pid = q.last_receive_pid;
        s.send_time = q.send_time;
        s.receive_time = q.receive_time;
        s.change_time = q.change_time;
        s.waiting_receivers = std::uint32_t(q.receivers.size());
        s.waiting_senders = std::uint32_t(q.senders.size());
        s.name = q.name;
        return s;
    }

    // The kernel's msg_fits_inqueue, with the credit clients hold counted as used.
    bool fits(const hosted_queue& q, std::size_t size) const {
        return q.store->bytes() + q.reserved_bytes + size <= q.capacity &&
               q.store->count() + q.reserved_messages + 1 <= q.capacity;
    }
    bool fits_without_credit(const hosted_queue& q, std::size_t size) const {
        return q.store->bytes() + size <= q.capacity && q.store->count() + 1 <= q.capacity;
    }

    // Asks every client holding credit on `q` to give it back.
    void revoke_all(hosted_queue& q, const client* except = nullptr) {
        for (client* c : q.clients) {
            if (c == except || c->dead || c->revoke_pending ||
                (c->credit_bytes == 0 && c->credit_messages == 0))
                continue;
            c->revoke_pending = true;
            notice(*c, p::opcode::revoke);
        }
    }

    void zero_credit(client& c) {
        if (!c.queue)
            return;
        c.queue->reserved_bytes -= c.credit_bytes;
        c.queue->reserved_messages -= c.credit_messages;
        c.credit_bytes = c.credit_messages = 0;
    }

    // Hands a message to a receiver, answering its request `op` (receive, or receive_many with
    // a batch of one). Returns false if the receiver's connection is gone, in which case nothing
    // was handed over.
    bool hand_over(hosted_queue& q, client& r, p::opcode op, std::uint64_t seq, long type,
                   std::uint64_t arrival, pid_t sender, std::span<const std::byte> data,
                   std::uint64_t buffer) {
        p::start_reply(outgoing, op, seq, 0);
        p::writer w(outgoing);
        const p::message_body m{type, arrival, sender, std::uint32_t(data.size()),
                                data.first(std::min<std::size_t>(data.size(), buffer))};
        if (op == p::opcode::receive_many) {
            p::encode(w, p::batch_header{1});
            p::encode_entry(w, m);
        } else {
            p::encode(w, m);
        }
        if (!deliver_record(r, outgoing))
            return false;
        r.transit.push_back({q.id, type, arrival, sender, take_buffer(data)});
        q.last_receive_pid = r.peer.pid;
        q.receive_time = now_ns();
        return true;
    }

    // The kernel's pipelined_send: the longest-waiting receiver that wants the message gets it;
    // one whose buffer is too small (without noerror) is woken with E2BIG, as in Linux.
    bool pipeline(hosted_queue& q, long type, std::uint64_t arrival, pid_t sender,
                  std::span<const std::byte> data) {
        for (auto it = q.receivers.begin(); it != q.receivers.end();) {
            client& r = *it->who;
            if (r.dead || !it->which.admits(type)) {
                ++it;
                continue;
            }
            auto waiter = *it;
            it = q.receivers.erase(it);
            --r.pending;
            if (data.size() > waiter.buffer && !waiter.noerror) {
                reply_error(r, waiter.op, waiter.sequence, E2BIG);
                continue;
            }
            if (hand_over(q, r, waiter.op, waiter.sequence, type, arrival, sender, data,
                          waiter.buffer))
                return true;
        }
        return false;
    }

    // A message enters the queue: to a waiting receiver, or into the store.
    void enqueue(hosted_queue& q, const client& from, long type, std::span<const std::byte> data) {
        const std::uint64_t arrival = q.next_arrival++;
        q.last_send_pid = from.peer.pid;
        q.send_time = now_ns();
        if (!pipeline(q, type, arrival, from.peer.pid, data))
            q.store->push(type, data, from.peer.pid, arrival);
    }

    // A message a vanished client never acknowledged: to a waiting receiver, or back into the
    // store at its arrival place. It may overfill the queue for a while: nothing is dropped.
    void return_message(hosted_queue& q, in_transit t) {
        if (pipeline(q, t.type, t.arrival, t.sender, t.data))
            return;
        const queued_message* newest = nullptr;
        for (const queued_message* m = q.store->oldest(); m; m = m->next)
            newest = m;
        if (!newest || newest->arrival < t.arrival) {
            q.store->push(t.type, t.data, t.sender, t.arrival);
            return;
        }
        // The store only appends: rebuild it in arrival order (rare: a client died).
        auto rebuilt = std::make_unique<message_store>(options.max_message_size);
        bool placed = false;
        for (const queued_message* m = q.store->oldest(); m; m = m->next) {
            if (!placed && t.arrival < m->arrival) {
                rebuilt->push(t.type, t.data, t.sender, t.arrival);
                placed = true;
            }
            rebuilt->push(m->type, m->payload(), m->sender_pid, m->arrival);
        }
        q.store = std::move(rebuilt);
    }

    // Room appeared: waiting senders whose message fits go in, oldest first.
    void admit_senders(hosted_queue& q) {
        bool blocked_by_credit = false;
        for (auto it = q.senders.begin(); it != q.senders.end();) {
            client& s = *it->who;
            if (s.dead) {
                ++it;
                continue;
            }
            if (!fits(q, it->text.size())) {
                blocked_by_credit |= fits_without_credit(q, it->text.size());
                ++it;
                continue;
            }
            enqueue(q, s, it->type, it->text);
            --s.pending;
            reply_sent(s, it->op, it->sequence, 1);
            it = q.senders.erase(it);
        }
        if (blocked_by_credit)
            revoke_all(q);
    }

    void remove_queue(hosted_queue& q) {
        for (auto& r : q.receivers) {
            --r.who->pending;
            reply_error(*r.who, r.op, r.sequence, EIDRM);
        }
        for (auto& s : q.senders) {
            --s.who->pending;
            reply_error(*s.who, s.op, s.sequence, EIDRM);
        }
        q.receivers.clear();
        q.senders.clear();
        for (client* c : q.clients) {
            c->queue = nullptr;
            c->queue_removed = true;
            c->credit_bytes = c->credit_messages = 0;
            notice(*c, p::opcode::removed);
        }
        log().info("queue {} ({}) removed", q.id, q.name.empty() ? "private" : q.name);
        if (!q.name.empty())
            by_name.erase(q.name);
        queues.erase(q.id); // q is gone
    }

    // Credit for a client that is sending: space above half the queue, up to the window.
    void top_up(client& c) {
        hosted_queue* q = c.queue;
        c.sent_in_batch = false;
        if (!q || c.dead || c.revoke_pending || !q->senders.empty())
            return;
        const std::size_t half = q->capacity / 2;
        const std::size_t used_b = q->store->bytes() + q->reserved_bytes;
        const std::size_t used_m = q->store->count() + q->reserved_messages;
        if (used_b >= q->capacity - half || used_m >= q->capacity - half)
            return;
        const std::size_t window = std::min(options.credit_window, q->capacity - half);
        if (c.credit_bytes >= window / 2 && c.credit_messages >= window / 2)
            return;
        std::size_t add_b = std::min(window - c.credit_bytes, q->capacity - half - used_b);
        std::size_t add_m = std::min(window - c.credit_messages, q->capacity - half - used_m);
        if (add_b == 0 || add_m == 0)
            return;
        c.credit_bytes += add_b;
        c.credit_messages += add_m;
        q->reserved_bytes += add_b;
        q->reserved_messages += add_m;
        p::start_record(outgoing, frame_kind::control_reply, std::int64_t(p::opcode::grant), 0);
        p::writer w(outgoing);
        p::encode(w, p::grant_body{add_b, add_m, c.next_sequence - 1});
        deliver_record(c, outgoing);
    }

    // --- requests ------------------------------------------------------------------------------

    // The queue a request works on, or the errno to answer.
    std::expected<hosted_queue*, int> bound(client& c) {
        if (c.queue_removed)
            return std::unexpected(EIDRM);
        if (!c.queue)
            return std::unexpected(EINVAL); // no open yet
        return c.queue;
    }

    void on_open(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_open_request(body);
        if (!req)
            return fault(c, "malformed open request");
        if (c.queue || c.queue_removed)
            return (void)reply_error(c, p::opcode::open, seq, EISCONN);
        hosted_queue* q = nullptr;
        if (req->flags & p::open_by_id) {
            auto it = queues.find(req->id);
            if (it == queues.end())
                return (void)reply_error(c, p::opcode::open, seq, ENOENT);
            q = it->second.get();
        } else if (!(req->flags & p::open_private)) {
            auto it = by_name.find(req->name);
            if (it != by_name.end()) {
                if ((req->flags & p::open_create) && (req->flags & p::open_exclusive))
                    return (void)reply_error(c, p::opcode::open, seq, EEXIST);
                q = it->second;
            } else if (!(req->flags & p::open_create)) {
                return (void)reply_error(c, p::opcode::open, seq, ENOENT);
            }
        }
        if (q) {
            if (!permitted(c, *q, req->mode))
                return (void)reply_error(c, p::opcode::open, seq, EACCES);
        } else {
            if (queues.size() >= options.max_queues) {
                log().warn("pid {}: no queue created: {} queues is the limit (--max-queues)",
                           c.peer.pid, options.max_queues);
                return (void)reply_error(c, p::opcode::open, seq, ENOSPC);
            }
            const std::size_t capacity = req->capacity ? req->capacity : options.default_capacity;
            if (capacity > options.max_queue_bytes && !is_root(c))
                return (void)reply_error(c, p::opcode::open, seq, EINVAL);
            auto made = std::make_unique<hosted_queue>();
            made->id = next_queue_id++;
            made->name = req->name;
            made->mode = req->mode & 0777;
            made->uid = made->cuid = c.peer.has_credentials ? c.peer.uid : uid_t(-1);
            made->gid = made->cgid = c.peer.has_credentials ? c.peer.gid : gid_t(-1);
            made->capacity = capacity;
            made->store = std::make_unique<message_store>(options.max_message_size);
            made->change_time = now_ns();
            q = made.get();
            queues.emplace(q->id, std::move(made));
            if (!q->name.empty())
                by_name.emplace(q->name, q);
            log().info("queue {} ({}) created by uid {} pid {}, mode {:03o}, {} bytes", q->id,
                       q->name.empty() ? "private" : q->name, c.peer.uid, c.peer.pid, q->mode,
                       q->capacity);
        }
        c.queue = q;
        q->clients.push_back(&c);
        p::start_reply(outgoing, p::opcode::open, seq, 0);
        p::writer w(outgoing);
        p::encode(w, p::open_reply{q->id, options.max_message_size, q->capacity});
        deliver_record(c, outgoing);
    }

    // The answer to a send (empty) or send_many (how many were queued).
    void reply_sent(client& c, p::opcode op, std::uint64_t seq, std::uint64_t queued) {
        p::start_reply(outgoing, op, seq, 0);
        if (op == p::opcode::send_many)
            p::writer(outgoing).u64(queued);
        deliver_record(c, outgoing);
    }

    // A send request of one message (send) or several (send_many), made without credit: they
    // enter the queue in order while each fits, as msgsnd decides it. If the first does not,
    // it waits in the daemon for room (EAGAIN with nowait).
    void send_requested(client& c, p::opcode op, std::uint64_t seq,
                        std::span<const batch_entry> messages, bool nowait) {
        zero_credit(c); // a send request gives back all unused credit
        c.revoke_pending = false;
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, op, seq, q.error());
        if (!permitted(c, **q, 0222))
            return (void)reply_error(c, op, seq, EACCES);
        c.sent_in_batch = true;
        hosted_queue& hq = **q;
        std::size_t queued = 0;
        while (queued < messages.size() && fits(hq, messages[queued].payload.size())) {
            enqueue(hq, c, messages[queued].type, messages[queued].payload);
            ++queued;
        }
        if (queued > 0)
            return reply_sent(c, op, seq, queued);
        const batch_entry& first = messages.front();
        if (fits_without_credit(hq, first.payload.size()))
            revoke_all(hq, &c);
        if (nowait)
            return (void)reply_error(c, op, seq, EAGAIN);
        if (c.pending >= options.max_pending)
            return (void)reply_error(c, op, seq, ENOBUFS);
        ++c.pending;
        hq.senders.push_back(
            {&c, seq, first.type, {first.payload.begin(), first.payload.end()}, op});
    }

    void on_send(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_send_request(body);
        if (!req)
            return fault(c, "malformed send request");
        if (req->type < 1 || req->text.size() > options.max_message_size) {
            zero_credit(c);
            c.revoke_pending = false;
            return (void)reply_error(c, p::opcode::send, seq, req->type < 1 ? EINVAL : EMSGSIZE);
        }
        const batch_entry one{long(req->type), req->text};
        send_requested(c, p::opcode::send, seq, std::span(&one, 1), req->flags & p::op_nowait);
    }

    void on_send_many(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_send_many_request(body);
        if (!req)
            return fault(c, "malformed send_many request");
        if (auto split = split_batch(req->entries, req->count, options.max_message_size, batch);
            !split)
            return fault(c, "send_many: " + std::string(to_string(split.error())));
        send_requested(c, p::opcode::send_many, seq, batch, req->flags & p::op_nowait);
    }

    // Takes `count` messages of `bytes` in all out of c's credit; false (and c is cut) if they
    // exceed it.
    bool spend_credit(client& c, std::size_t bytes, std::size_t count) {
        if (!c.queue || bytes > c.credit_bytes || count > c.credit_messages) {
            fault(c, c.queue ? "data record beyond the credit granted" : "data record before open");
            return false;
        }
        c.credit_bytes -= bytes;
        c.credit_messages -= count;
        c.queue->reserved_bytes -= bytes;
        c.queue->reserved_messages -= count;
        c.sent_in_batch = true;
        return true;
    }

    void on_data(client& c, const frame_header& h, std::span<const std::byte> text) {
        if (c.queue_removed)
            return; // sent on credit before the removal reached the client: gone with the queue
        if (spend_credit(c, text.size(), 1))
            enqueue(*c.queue, c, long(h.type), text);
    }

    // Several credited sends in one record (queue::send_many): each enters the queue on its own.
    void on_data_batch(client& c, const frame_header& h, std::span<const std::byte> payload) {
        if (auto split =
                split_batch(payload, std::uint64_t(h.type), options.max_message_size, batch);
            !split)
            return fault(c, std::string(to_string(split.error())));
        if (c.queue_removed)
            return;
        std::size_t bytes = 0;
        for (const auto& e : batch)
            bytes += e.payload.size();
        if (!spend_credit(c, bytes, batch.size()))
            return;
        for (const auto& e : batch)
            enqueue(*c.queue, c, e.type, e.payload);
    }

    void on_receive(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_receive_request(body);
        if (!req)
            return fault(c, "malformed receive request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::receive, seq, q.error());
        hosted_queue& hq = **q;
        if (!permitted(c, hq, 0444))
            return (void)reply_error(c, p::opcode::receive, seq, EACCES);
        const selector which{long(req->type), (req->flags & p::op_except) != 0};
        const bool noerror = req->flags & p::op_noerror;
        if (const queued_message* m = hq.store->find(which)) {
            if (m->size > req->buffer && !noerror)
                return (void)reply_error(c, p::opcode::receive, seq, E2BIG);
            if (hand_over(hq, c, p::opcode::receive, seq, m->type, m->arrival, m->sender_pid,
                          m->payload(), req->buffer)) {
                hq.store->pop(*m);
                admit_senders(hq);
            }
            return;
        }
        if (req->flags & p::op_nowait)
            return (void)reply_error(c, p::opcode::receive, seq, ENOMSG);
        if (c.pending >= options.max_pending)
            return (void)reply_error(c, p::opcode::receive, seq, ENOBUFS);
        ++c.pending;
        hq.receivers.push_back({&c, seq, which, req->buffer, noerror, p::opcode::receive});
    }

    // Takes as many messages as successive receives would, in one reply: while the next one
    // `which` selects fits what is left of the client's buffer and of one reply record.
    void on_receive_many(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_receive_many_request(body);
        if (!req)
            return fault(c, "malformed receive_many request");
        const auto op = p::opcode::receive_many;
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, op, seq, q.error());
        hosted_queue& hq = **q;
        if (!permitted(c, hq, 0444))
            return (void)reply_error(c, op, seq, EACCES);
        const selector which{long(req->type), (req->flags & p::op_except) != 0};
        const bool noerror = req->flags & p::op_noerror;
        const queued_message* m = hq.store->find(which);
        if (!m) {
            if (req->flags & p::op_nowait)
                return (void)reply_error(c, op, seq, ENOMSG);
            if (c.pending >= options.max_pending)
                return (void)reply_error(c, op, seq, ENOBUFS);
            ++c.pending;
            hq.receivers.push_back({&c, seq, which, req->buffer, noerror, op});
            return;
        }
        if (m->size > req->buffer && !noerror)
            return (void)reply_error(c, op, seq, E2BIG);
        p::start_reply(outgoing, op, seq, 0);
        const std::size_t count_at = outgoing.size();
        p::writer w(outgoing);
        p::encode(w, p::batch_header{1}); // the count is filled in below
        std::uint64_t left = req->buffer;
        std::uint32_t taken = 0;
        do {
            const std::size_t data = std::min<std::uint64_t>(m->size, left);
            p::encode_entry(w, p::message_body{m->type, m->arrival, m->sender_pid,
                                               std::uint32_t(m->size), m->payload().first(data)});
            // Held until acknowledged, and given back to the queue if the client goes away
            // first (also when this reply cannot be delivered: the client is then doomed).
            c.transit.push_back(
                {hq.id, m->type, m->arrival, m->sender_pid, take_buffer(m->payload())});
            left -= data;
            ++taken;
            hq.store->pop(*m);
            m = taken < req->count ? hq.store->find(which) : nullptr;
        } while (m && m->size <= left &&
                 outgoing.size() + batch_entry_header + m->size <= list_part_bytes);
        put_big_endian(outgoing.data() + count_at, taken);
        hq.last_receive_pid = c.peer.pid;
        hq.receive_time = now_ns();
        deliver_record(c, outgoing);
        admit_senders(hq);
    }

    void reply_message(client& c, p::opcode op, std::uint64_t seq, const queued_message& m) {
        p::start_reply(outgoing, op, seq, 0);
        p::writer w(outgoing);
        p::encode(w, p::message_body{m.type, m.arrival, m.sender_pid, m.size, m.payload()});
        deliver_record(c, outgoing);
    }

    void on_peek(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_peek_request(body);
        if (!req)
            return fault(c, "malformed peek request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::peek, seq, q.error());
        if (!permitted(c, **q, 0444))
            return (void)reply_error(c, p::opcode::peek, seq, EACCES);
        const queued_message* m =
            (*q)->store->find(selector{long(req->type), (req->flags & p::op_except) != 0});
        if (!m)
            return (void)reply_error(c, p::opcode::peek, seq, ENOMSG);
        reply_message(c, p::opcode::peek, seq, *m);
    }

    void on_peek_at(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto position = p::decode_u64(body);
        if (!position)
            return fault(c, "malformed peek_at request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::peek_at, seq, q.error());
        if (!permitted(c, **q, 0444))
            return (void)reply_error(c, p::opcode::peek_at, seq, EACCES);
        const queued_message* m = (*q)->store->at(*position);
        if (!m)
            return (void)reply_error(c, p::opcode::peek_at, seq, ENOMSG);
        reply_message(c, p::opcode::peek_at, seq, *m);
    }

    // Sends entries as list parts, back to back: one snapshot, since nothing runs in between.
    template <class Entries, class Encode>
    void reply_parts(client& c, p::opcode op, std::uint64_t seq, const Entries& entries,
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
            if (!deliver_record(c, r))
                return;
        } while (next < entries.size());
    }

    void on_list(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_list_request(body);
        if (!req)
            return fault(c, "malformed list request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::list, seq, q.error());
        if (!permitted(c, **q, 0444))
            return (void)reply_error(c, p::opcode::list, seq, EACCES);
        std::vector<const queued_message*> all;
        all.reserve((*q)->store->count());
        for (const queued_message* m = (*q)->store->oldest(); m; m = m->next)
            all.push_back(m);
        const std::size_t max_data =
            (req->flags & p::list_with_data) ? std::min<std::size_t>(req->max_data, 65536) : 0;
        reply_parts(c, p::opcode::list, seq, all, [&](p::writer& w, const queued_message* m) {
            p::encode_entry(
                w, p::message_body{m->type, m->arrival, m->sender_pid, m->size,
                                   m->payload().first(std::min<std::size_t>(m->size, max_data))});
        });
    }

    void on_stat(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        if (!body.empty())
            return fault(c, "malformed stat request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::stat, seq, q.error());
        if (!permitted(c, **q, 0444))
            return (void)reply_error(c, p::opcode::stat, seq, EACCES);
        p::start_reply(outgoing, p::opcode::stat, seq, 0);
        p::writer w(outgoing);
        p::encode(w, stat_of(**q));
        deliver_record(c, outgoing);
    }

    void on_set(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        auto req = p::decode_set_request(body);
        if (!req)
            return fault(c, "malformed set request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::set, seq, q.error());
        hosted_queue& hq = **q;
        if (!owns(c, hq))
            return (void)reply_error(c, p::opcode::set, seq, EPERM);
        if ((req->which & p::set_mode) && (req->mode & ~0777u))
            return (void)reply_error(c, p::opcode::set, seq, EINVAL);
        if (req->which & p::set_capacity) {
            if (req->capacity > options.max_queue_bytes && !is_root(c))
                return (void)reply_error(c, p::opcode::set, seq, EPERM);
            hq.capacity = req->capacity;
        }
        if (req->which & p::set_mode)
            hq.mode = req->mode;
        if (req->which & p::set_uid)
            hq.uid = req->uid;
        if (req->which & p::set_gid)
            hq.gid = req->gid;
        hq.change_time = now_ns();
        reply_empty(c, p::opcode::set, seq);
        // Credit was granted under the old limits and permissions: ask for it back.
        revoke_all(hq);
        admit_senders(hq);
    }

    void on_remove(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        if (!body.empty())
            return fault(c, "malformed remove request");
        auto q = bound(c);
        if (!q)
            return (void)reply_error(c, p::opcode::remove, seq, q.error());
        if (!owns(c, **q))
            return (void)reply_error(c, p::opcode::remove, seq, EPERM);
        reply_empty(c, p::opcode::remove, seq);
        remove_queue(**q);
    }

    void on_info(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        if (!body.empty())
            return fault(c, "malformed info request");
        p::info_body i;
        i.queues = queues.size();
        for (auto& [_, q] : queues) {
            i.messages += q->store->count();
            i.bytes += q->store->bytes();
        }
        i.clients = clients.size();
        i.protocol_errors = protocol_errors;
        i.max_queues = options.max_queues;
        i.max_queue_bytes = options.max_queue_bytes;
        i.max_message_size = options.max_message_size;
        i.max_clients = options.max_clients;
        p::start_reply(outgoing, p::opcode::info, seq, 0);
        p::writer w(outgoing);
        p::encode(w, i);
        deliver_record(c, outgoing);
    }

    void on_list_queues(client& c, std::uint64_t seq, std::span<const std::byte> body) {
        if (!body.empty())
            return fault(c, "malformed list_queues request");
        std::vector<p::stat_body> all;
        for (auto& [_, q] : queues)
            if (permitted(c, *q, 0444)) // as MSG_STAT: only queues the caller may read
                all.push_back(stat_of(*q));
        reply_parts(c, p::opcode::list_queues, seq, all,
                    [](p::writer& w, const p::stat_body& s) { p::encode(w, s); });
    }

    void on_cancel(client& c, std::span<const std::byte> body) {
        auto target = p::decode_u64(body);
        if (!target)
            return fault(c, "malformed cancel request");
        hosted_queue* q = c.queue;
        if (!q)
            return; // the queue is gone: the wait was answered with EIDRM
        for (auto it = q->receivers.begin(); it != q->receivers.end(); ++it)
            if (it->who == &c && it->sequence == *target) {
                const p::opcode op = it->op;
                q->receivers.erase(it);
                --c.pending;
                reply_error(c, op, *target, ECANCELED);
                return;
            }
        for (auto it = q->senders.begin(); it != q->senders.end(); ++it)
            if (it->who == &c && it->sequence == *target) {
                const p::opcode op = it->op;
                q->senders.erase(it);
                --c.pending;
                reply_error(c, op, *target, ECANCELED);
                return;
            }
        // Not waiting any more: its answer is already on the way.
    }

    void on_release(client& c, std::span<const std::byte> body) {
        if (!body.empty())
            return fault(c, "malformed release");
        zero_credit(c);
        c.revoke_pending = false;
        if (c.queue)
            admit_senders(*c.queue);
    }

    void on_ack(client& c, std::span<const std::byte> body) {
        auto arrival = p::decode_u64(body);
        if (!arrival)
            return fault(c, "malformed ack");
        if (c.transit.empty() || c.transit.front().arrival != *arrival)
            return fault(c, "ack of a message not handed over");
        release_buffer(std::move(c.transit.front().data));
        c.transit.pop_front();
    }

    void on_ack_many(client& c, std::span<const std::byte> body) {
        auto ack = p::decode_ack_many(body);
        if (!ack)
            return fault(c, "malformed ack_many");
        if (ack->count > c.transit.size() ||
            c.transit.at(std::size_t(ack->count) - 1).arrival != ack->last_arrival)
            return fault(c, "ack of messages not handed over");
        for (std::uint64_t i = 0; i < ack->count; ++i) {
            release_buffer(std::move(c.transit.front().data));
            c.transit.pop_front();
        }
    }

    void on_request(client& c, const frame_header& h, std::span<const std::byte> body) {
        const std::uint64_t seq = h.sequence;
        switch (static_cast<p::opcode>(h.type)) {
        case p::opcode::open:
            return on_open(c, seq, body);
        case p::opcode::send:
            return on_send(c, seq, body);
        case p::opcode::receive:
            return on_receive(c, seq, body);
        case p::opcode::peek:
            return on_peek(c, seq, body);
        case p::opcode::peek_at:
            return on_peek_at(c, seq, body);
        case p::opcode::list:
            return on_list(c, seq, body);
        case p::opcode::stat:
            return on_stat(c, seq, body);
        case p::opcode::set:
            return on_set(c, seq, body);
        case p::opcode::remove:
            return on_remove(c, seq, body);
        case p::opcode::info:
            return on_info(c, seq, body);
        case p::opcode::list_queues:
            return on_list_queues(c, seq, body);
        case p::opcode::cancel:
            return on_cancel(c, body);
        case p::opcode::release:
            return on_release(c, body);
        case p::opcode::ack:
            return on_ack(c, body);
        case p::opcode::receive_many:
            return on_receive_many(c, seq, body);
        case p::opcode::ack_many:
            return on_ack_many(c, body);
        case p::opcode::send_many:
            return on_send_many(c, seq, body);
        case p::opcode::sync:
            if (!body.empty())
                return fault(c, "malformed sync request");
            return (void)reply_empty(c, p::opcode::sync, seq);
        default:
            return fault(c, "unknown request opcode " + std::to_string(h.type));
        }
    }

    // Serves one record of c, read into `record`; `longer` if it did not fit its slot. Returns
    // false once c is cut.
    bool serve(client& c, std::span<const std::byte> record, bool longer) {
        if (record.empty()) { // end of stream (a zero-length record is no request either)
            doom(c);
            return false;
        }
        if (longer) {
            fault(c, "record longer than the largest request");
            return false;
        }
        auto h = decode(record, max_request);
        if (!h) {
            fault(c, to_string(h.error()));
            return false;
        }
        if (h->sequence != c.next_sequence) {
            fault(c, to_string(frame_fault::bad_sequence));
            return false;
        }
        ++c.next_sequence;
        auto body = record.subspan(frame_header::size, h->length);
        if (h->kind == frame_kind::data || h->kind == frame_kind::data_batch) {
            if (h->length > options.max_message_size) {
                fault(c, to_string(frame_fault::too_long));
                return false;
            }
            if (h->kind == frame_kind::data) {
                on_data(c, *h, body);
            } else {
                c.next_sequence += std::uint64_t(h->type) - 1; // a batch takes one per message
                on_data_batch(c, *h, body);
            }
        } else if (h->kind == frame_kind::control_request) {
            on_request(c, *h, body);
        } else {
            fault(c, to_string(frame_fault::unexpected_kind));
        }
        return !c.dead;
    }

    // Reads and serves up to a batch of c's records.
    void on_readable(client& c) {
        for (int budget = batch_records; budget > 0 && !c.dead;) {
            const unsigned want = unsigned(std::min<std::size_t>(slots, std::size_t(budget)));
            auto take = [&] {
                return retry_eintr([&] {
                    return ::recvmmsg(c.fd.get(), in_msgs.data(), want, MSG_TRUNC | MSG_DONTWAIT,
                                      nullptr);
                });
            };
            int n = take();
            // AF_UNIX reports a peer that closed with unread data of its own as one ECONNRESET
            // ahead of the records still queued: read on.
            if (n < 0 && errno == ECONNRESET)
                n = take();
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    doom(c);
                break;
            }
            if (n == 0) {
                doom(c);
                break;
            }
            budget -= n;
            for (std::size_t i = 0; i < std::size_t(n); ++i) {
                const auto& m = in_msgs[i];
                const std::size_t length = std::min<std::size_t>(m.msg_len, slot_size);
                const bool longer = (m.msg_hdr.msg_flags & MSG_TRUNC) || m.msg_len >= slot_size;
                if (!serve(c, std::span<const std::byte>(in.data() + i * slot_size, length),
                           longer))
                    break;
            }
            if (unsigned(n) < want) // the socket is empty (or has an error for the next call)
                break;
        }
        if (c.sent_in_batch)
            top_up(c);
    }

    // --- loop ----------------------------------------------------------------------------------

    result<void> run(int stop_fd) {
        epoll_event stop{EPOLLIN, {.u64 = stop_tag}};
        if (::epoll_ctl(poller.get(), EPOLL_CTL_ADD, stop_fd, &stop) < 0)
            return std::unexpected(last_error());
        std::array<epoll_event, 128> events;
        const auto spin = std::chrono::microseconds(options.spin_us);
        bool served = false; // the last wait found work: spin before the next sleep
        for (;;) {
            int n = 0;
            if (served && spin.count() > 0) {
                // Busy-poll for a bounded time: work arriving meanwhile is served without a
                // sleeping wake-up (opt-in, --spin-us: it costs a core while it spins). Each turn
                // yields, so a client on this same CPU still runs.
                const auto until = std::chrono::steady_clock::now() + spin;
                for (;;) {
                    n = ::epoll_wait(poller.get(), events.data(), int(events.size()), 0);
                    if (n != 0 || std::chrono::steady_clock::now() >= until)
                        break;
                    ::sched_yield();
                }
            }
            if (n == 0)
                n = ::epoll_wait(poller.get(), events.data(), int(events.size()), -1);
            served = n > 0;
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return std::unexpected(last_error());
            }
            for (int i = 0; i < n; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag == stop_tag) {
                    log().info("stopping: {} queues, {} clients", queues.size(), clients.size());
                    return {};
                }
                if (tag >= first_listener_tag && tag < first_listener_tag + listeners.size()) {
                    std::size_t k = tag - first_listener_tag;
                    accept_all(listeners[k].get(), listen_at[k].second);
                    continue;
                }
                auto* c = reinterpret_cast<client*>(tag);
                if (c->dead)
                    continue;
                if (events[i].events & EPOLLOUT)
                    flush(*c);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(*c);
            }
            bury_doomed();
        }
    }
};

server::server(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
server::server(server&&) noexcept = default;
server& server::operator=(server&&) noexcept = default;
server::~server() = default;

result<server> server::open(const server_options& options) {
    if (options.listen.empty() || options.max_message_size == 0 || options.default_capacity == 0 ||
        options.max_clients == 0 || options.max_queues == 0)
        return std::unexpected(std::make_error_code(std::errc::invalid_argument));
    auto s = std::make_unique<impl>(options);
    s->poller.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!s->poller)
        return std::unexpected(last_error());
    for (const address& given : options.listen) {
        const address where = given.resolve();
        auto via = transport_for(where);
        if (!via)
            return std::unexpected(via.error());
        if (options.max_message_size + 64 > (*via)->max_payload())
            return std::unexpected(std::make_error_code(std::errc::invalid_argument));
        if (where.family() == address_family::unix_path) {
            std::error_code ec;
            auto dir = std::filesystem::path(where.name()).parent_path();
            if (std::filesystem::create_directories(dir, ec))
                ::chmod(dir.c_str(), 0755);
            if (ec)
                return std::unexpected(ec);
        }
        auto fd = (*via)->listen(where, 128, true);
        if (!fd)
            return std::unexpected(fd.error());
        if (where.family() == address_family::unix_path &&
            ::chmod(where.name().c_str(), options.socket_mode) < 0)
            return std::unexpected(last_error());
        epoll_event ev{EPOLLIN, {.u64 = first_listener_tag + s->listeners.size()}};
        if (::epoll_ctl(s->poller.get(), EPOLL_CTL_ADD, fd->get(), &ev) < 0)
            return std::unexpected(last_error());
        s->listeners.push_back(std::move(*fd));
        s->listen_at.emplace_back(where, *via);
        log().info("listening on {}", where.to_string());
    }
    return server(std::move(s));
}

result<void> server::run(int stop_fd) {
    return impl_->run(stop_fd);
}

} // namespace seqmq::daemon

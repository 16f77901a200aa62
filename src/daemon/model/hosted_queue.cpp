#include "daemon/model/hosted_queue.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>

namespace seqmq::daemon::model {

namespace sysv = detail::sysv;

std::int64_t coarse_now_ns() noexcept {
    timespec t{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &t);
    return std::int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

hosted_queue::hosted_queue(std::uint64_t id, std::string name, const ipc_perm& perm,
                           std::size_t capacity, std::size_t max_message_size,
                           memory_budget& budget, completion& done)
    : id_(id), name_(std::move(name)), perm_(perm), capacity_(capacity),
      max_message_size_(max_message_size), budget_(budget), done_(done), store_(max_message_size),
      change_time_(coarse_now_ns()) {}

hosted_queue::~hosted_queue() {
    budget_.credit({store_.bytes() + transit_.bytes + reserved_.bytes,
                    store_.count() + transit_.messages + reserved_.messages});
}

queue_usage hosted_queue::used() const noexcept {
    return {store_.bytes() + transit_.bytes, store_.count() + transit_.messages};
}

hosted_queue::room hosted_queue::room_for(std::size_t size) const noexcept {
    const queue_usage u = used();
    const queue_usage with_credit{u.bytes + reserved_.bytes, u.messages + reserved_.messages};
    const auto rule = sysv::capacity_rule::bytes_and_messages;
    if (!sysv::fits_in_queue(with_credit, capacity_, size, rule))
        return sysv::fits_in_queue(u, capacity_, size, rule) ? room::full_of_credit : room::full;
    if (!budget_.admits({size, 1}))
        return room::no_memory;
    return room::fits;
}

void hosted_queue::into_transit(queue_usage u, pid_t receiver) {
    transit_.bytes += u.bytes;
    transit_.messages += u.messages;
    last_receive_pid_ = receiver;
    receive_time_ = coarse_now_ns();
    changed();
}

// pipelined_send: the longest-waiting receiver that wants the message gets it; one whose
// buffer is too small (without MSG_NOERROR) is woken with E2BIG and the message moves on, as in
// Linux.
bool hosted_queue::pipeline(const message_view& m) {
    for (auto it = receivers_.begin(); it != receivers_.end();) {
        if (!it->which.admits(m.type)) {
            ++it;
            continue;
        }
        const parked_receive r = *it;
        it = receivers_.erase(it);
        if (r.for_window && m.data.size() > r.buffer) {
            done_.fail(r.who, E2BIG); // as for any receiver: E2BIG, and the message goes on
            continue;
        }
        if (r.for_window) {
            // Into the queue, to be copied into the window next, where it waits; no other
            // receiver may take it meanwhile.
            due_ = &store_.push(m.type, m.data, m.sender, m.arrival);
            due_to_ = r.who.owner;
            done_.window_due(r.who);
            return true;
        }
        if (sysv::take_rule(m.data.size(), r.buffer, r.noerror) == sysv::take_outcome::too_big) {
            done_.fail(r.who, E2BIG);
            continue;
        }
        if (done_.hand_over(r.who, r.buffer, m, true)) {
            into_transit({m.data.size(), 1}, r.who.pid);
            return true;
        }
    }
    return false;
}

void hosted_queue::enqueue(pid_t from, long type, std::span<const std::byte> data) {
    const message_view m{type, next_arrival_++, from, data};
    last_send_pid_ = from;
    send_time_ = coarse_now_ns();
    budget_.charge({data.size(), 1});
    if (observer_) {
        observer_->message_accepted(*this, m);
        observer_->queue_changed(*this);
    }
    if (!pipeline(m))
        store_.push(m.type, m.data, m.sender, m.arrival);
}

outcome hosted_queue::send(const waiter& from, std::span<const batch_entry> messages, bool nowait,
                           bool may_park) {
    std::size_t queued = 0;
    room r = room::fits;
    while (queued < messages.size() &&
           (r = room_for(messages[queued].payload.size())) == room::fits) {
        enqueue(from.pid, messages[queued].type, messages[queued].payload);
        ++queued;
    }
    if (queued > 0)
        return {0, false, queued};
    if (r == room::no_memory)
        return {ENOMEM};
    if (r == room::full_of_credit)
        done_.credit_wanted(*this);
    if (nowait)
        return {EAGAIN};
    if (!may_park)
        return {ENOBUFS};
    const batch_entry& first = messages.front();
    senders_.push_back(
        {from, first.type, {first.payload.begin(), first.payload.end(), &waits_pool_}});
    return {0, true};
}

void hosted_queue::send_reserved(pid_t from, long type, std::span<const std::byte> data) {
    unreserve({data.size(), 1});
    enqueue(from, type, data);
}

outcome hosted_queue::receive(const waiter& who, selector which, std::size_t buffer, bool noerror,
                              bool nowait, bool may_park) {
    if (const queued_message* m = find(which)) {
        if (sysv::take_rule(m->size, buffer, noerror) == sysv::take_outcome::too_big)
            return {E2BIG};
        if (done_.hand_over(who, buffer, {m->type, m->arrival, m->sender_pid, m->payload()},
                            false)) {
            take(*m, who.pid);
            admit_senders();
        }
        return {};
    }
    if (nowait)
        return {ENOMSG};
    if (!may_park)
        return {ENOBUFS};
    receivers_.push_back({who, which, buffer, noerror, false});
    return {0, true};
}

const queued_message* hosted_queue::find(selector which) noexcept {
    const queued_message* m = store_.find(which);
    if (!m || m != due_)
        return m;
    // Look past it: out of the store for the search, then back at its place. (It is the
    // oldest message: a receiver waits on the window only while nothing is queued, and the
    // first message to come is due to it. So this is rare, and O(log n).)
    const queued_message saved = *due_;
    due_copy_.assign(due_->payload().begin(), due_->payload().end());
    const bool fed = window_count_ > 0 && last_fed_ == due_;
    store_.pop(*due_);
    const queued_message* other = store_.find(which); // stays valid across the push
    due_ = &store_.push(saved.type, due_copy_, saved.sender_pid, saved.arrival);
    if (fed)
        last_fed_ = due_;
    return other;
}

void hosted_queue::take(const queued_message& m, pid_t pid) {
    into_transit({m.size, 1}, pid);
    forget_due(&m);
    store_.pop(m);
}

void hosted_queue::acknowledge(queue_usage done) noexcept {
    transit_.bytes -= done.bytes;
    transit_.messages -= done.messages;
    budget_.credit(done);
    admit_senders();
}

const queued_message* hosted_queue::next_to_feed() const noexcept {
    return window_count_ == 0 ? store_.oldest() : store_.after(last_fed_);
}

void hosted_queue::fed() noexcept {
    last_fed_ = next_to_feed();
    ++window_count_;
}

void hosted_queue::consumed(std::size_t n) {
    queue_usage gone{};
    for (; n > 0 && window_count_ > 0; --n, --window_count_) {
        const queued_message* m = store_.oldest();
        gone.bytes += m->size;
        ++gone.messages;
        forget_due(m);
        left_for_good(*m);
        store_.pop(*m);
    }
    if (window_count_ == 0)
        last_fed_ = nullptr;
    if (gone.messages > 0) {
        budget_.credit(gone);
        receive_time_ = coarse_now_ns();
        changed();
    }
}

void hosted_queue::window_returned(std::span<const std::uint64_t> returned) {
    queue_usage gone{};
    const queued_message* m = store_.oldest();
    bool gap = false; // a record was read back: later takes were dropped
    for (std::size_t k = 0; k < window_count_ && m; ++k) {
        const queued_message* next = store_.after(m);
        if (!returned.empty() && returned.front() == m->arrival) {
            returned = returned.subspan(1);
            gap = true;
        } else if (!gap) {
            gone.bytes += m->size;
            ++gone.messages;
            forget_due(m);
            left_for_good(*m);
            store_.pop(*m);
        }
        m = next;
    }
    window_count_ = 0;
    last_fed_ = nullptr;
    if (gone.messages > 0) {
        budget_.credit(gone);
        receive_time_ = coarse_now_ns();
        changed();
    }
}

void hosted_queue::wait_for_window(const waiter& who, std::size_t buffer) {
    receivers_.push_back({who, selector::any(), buffer, false, true});
}

void hosted_queue::end_window_wait(const void* owner, bool gave_up) {
    std::erase_if(receivers_,
                  [&](const parked_receive& r) { return r.for_window && r.who.owner == owner; });
    if (gave_up && due_to_ == owner)
        due_ = nullptr, due_to_ = nullptr;
}

void hosted_queue::note_receiver(pid_t pid) {
    last_receive_pid_ = pid;
    receive_time_ = coarse_now_ns();
    changed();
}

void hosted_queue::put_back(const message_view& m) {
    transit_.bytes -= m.data.size();
    transit_.messages -= 1;
    if (!pipeline(m))
        store_.push(m.type, m.data, m.sender, m.arrival);
}

void hosted_queue::put_back_all(std::span<const message_view> messages) {
    for (const message_view& m : messages) {
        transit_.bytes -= m.data.size();
        transit_.messages -= 1;
        store_.push(m.type, m.data, m.sender, m.arrival);
    }
    for (auto it = receivers_.begin(); it != receivers_.end();) {
        const queued_message* m = find(it->which);
        if (!m) {
            ++it;
            continue;
        }
        const parked_receive r = *it;
        it = receivers_.erase(it);
        const std::size_t buffer = r.for_window ? r.buffer : (r.noerror ? SIZE_MAX : r.buffer);
        if (m->size > buffer) {
            done_.fail(r.who, E2BIG);
            continue;
        }
        if (r.for_window) {
            due_ = m;
            due_to_ = r.who.owner;
            done_.window_due(r.who);
        } else if (done_.hand_over(r.who, r.buffer,
                                   {m->type, m->arrival, m->sender_pid, m->payload()}, true)) {
            take(*m, r.who.pid);
        }
    }
}

void hosted_queue::admit_senders() {
    bool blocked_by_credit = false;
    for (auto it = senders_.begin(); it != senders_.end();) {
        const room r = room_for(it->text.size());
        if (r == room::no_memory) {
            // As msgsnd when its allocation fails: ENOMEM, not a wait for memory that another
            // queue may free.
            const waiter who = it->who;
            it = senders_.erase(it);
            done_.fail(who, ENOMEM);
            continue;
        }
        if (r != room::fits) {
            blocked_by_credit |= r == room::full_of_credit;
            ++it;
            continue;
        }
        enqueue(it->who.pid, it->type, it->text);
        const waiter who = it->who;
        it = senders_.erase(it);
        done_.sent(who);
    }
    if (blocked_by_credit)
        done_.credit_wanted(*this);
}

bool hosted_queue::cancel(const void* owner, std::uint64_t request) {
    auto cancel_in = [&](auto& waits) {
        auto it = std::find_if(waits.begin(), waits.end(), [&](const auto& w) {
            return w.who.owner == owner && w.who.request == request;
        });
        if (it == waits.end())
            return false;
        const waiter who = it->who;
        waits.erase(it);
        done_.fail(who, ECANCELED);
        return true;
    };
    return cancel_in(receivers_) || cancel_in(senders_);
}

void hosted_queue::forget(const void* owner) {
    if (due_to_ == owner)
        due_ = nullptr, due_to_ = nullptr;
    std::erase_if(receivers_, [&](const parked_receive& r) { return r.who.owner == owner; });
    std::erase_if(senders_, [&](const parked_send& s) { return s.who.owner == owner; });
}

void hosted_queue::reserve(queue_usage u) noexcept {
    reserved_.bytes += u.bytes;
    reserved_.messages += u.messages;
    budget_.charge(u);
}

void hosted_queue::unreserve(queue_usage u) noexcept {
    reserved_.bytes -= u.bytes;
    reserved_.messages -= u.messages;
    budget_.credit(u);
}

void hosted_queue::set(const ipc_perm& perm, std::size_t capacity) {
    perm_ = perm;
    capacity_ = capacity;
    change_time_ = coarse_now_ns();
    changed();
    // Credit was granted under the old limits and permissions: ask for it back.
    if (reserved_.bytes || reserved_.messages)
        done_.credit_wanted(*this);
    admit_senders();
}

void hosted_queue::remove() {
    // expunge_all and ss_wakeup: every waiter learns at once.
    auto receivers = std::move(receivers_);
    auto senders = std::move(senders_);
    receivers_.clear();
    senders_.clear();
    for (const auto& r : receivers)
        done_.fail(r.who, EIDRM);
    for (const auto& s : senders)
        done_.fail(s.who, EIDRM);
    budget_.credit({store_.bytes(), store_.count()});
    store_.clear();
    if (observer_)
        observer_->queue_removed(*this);
    due_ = nullptr, due_to_ = nullptr;
    window_count_ = 0;
    last_fed_ = nullptr;
}

void hosted_queue::restore_message(long type, std::span<const std::byte> data, pid_t sender,
                                   std::uint64_t arrival) {
    budget_.charge({data.size(), 1});
    store_.push(type, data, sender, arrival);
    next_arrival_ = std::max(next_arrival_, arrival + 1);
}

void hosted_queue::restore_status(std::uint64_t next_arrival, pid_t last_send_pid,
                                  pid_t last_receive_pid, std::int64_t send_time,
                                  std::int64_t receive_time, std::int64_t change_time) noexcept {
    next_arrival_ = std::max(next_arrival_, next_arrival);
    last_send_pid_ = last_send_pid;
    last_receive_pid_ = last_receive_pid;
    send_time_ = send_time;
    receive_time_ = receive_time;
    change_time_ = change_time;
}

queue_status hosted_queue::status() const noexcept {
    queue_status s;
    s.count = store_.count();
    s.bytes = store_.bytes();
    s.capacity = capacity_;
    s.last_send_pid = last_send_pid_;
    s.last_receive_pid = last_receive_pid_;
    s.send_time = send_time_;
    s.receive_time = receive_time_;
    s.change_time = change_time_;
    s.waiting_receivers = receivers_.size();
    s.waiting_senders = senders_.size();
    return s;
}

} // namespace seqmq::daemon::model

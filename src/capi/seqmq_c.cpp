// The C API: msgsnd/msgrcv semantics, return values and errno, over mailboxes and senders.
#include <seqmq/seqmq.h>

#include "capi/handle.hpp"
#include "store/sysv_rules.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>

namespace seqmq::detail::capi {

int errno_of(const std::error_code& e) noexcept {
    if (e.category() == std::system_category() || e.category() == std::generic_category())
        return e.value();
    return e.default_error_condition().value();
}

namespace {
time_t seconds_of(std::chrono::system_clock::time_point t) {
    return static_cast<time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}
} // namespace

void fill_msqid_ds(const queue_stat& st, msqid_ds& buf) noexcept {
    std::memset(&buf, 0, sizeof buf);
    buf.msg_perm.__key = static_cast<key_t>(st.id);
    buf.msg_perm.uid = st.uid;
    buf.msg_perm.gid = st.gid;
    buf.msg_perm.cuid = st.cuid;
    buf.msg_perm.cgid = st.cgid;
    buf.msg_perm.mode = static_cast<unsigned short>(st.mode);
    buf.msg_stime = seconds_of(st.last_send_time);
    buf.msg_rtime = seconds_of(st.last_receive_time);
    buf.msg_ctime = seconds_of(st.change_time);
    buf.__msg_cbytes = st.bytes;
    buf.msg_qnum = st.count;
    buf.msg_qbytes = st.capacity;
    buf.msg_lspid = st.last_send_pid;
    buf.msg_lrpid = st.last_receive_pid;
}

namespace {
int clamped(std::uint64_t v) noexcept {
    return int(std::min<std::uint64_t>(v, INT_MAX));
}
} // namespace

int fill_msginfo(const daemon_info& d, int cmd, msginfo& out) noexcept {
    // Linux's <linux/msg.h> derives these from MSGMNI and MSGMNB; here from the daemon's limits.
    constexpr std::uint64_t msgssz = 16; // MSGSSZ
    const std::uint64_t msgpool = std::uint64_t(d.max_queues) * d.default_capacity / 1024;
    std::memset(&out, 0, sizeof out);
    out.msgmni = clamped(d.max_queues);
    out.msgmax = clamped(d.max_message_size);
    out.msgmnb = clamped(d.default_capacity);
    out.msgssz = int(msgssz);
    out.msgseg = static_cast<unsigned short>(std::min<std::uint64_t>(msgpool * 1024 / msgssz,
                                                                     0xffff)); // MSGSEG
    if (cmd == MSG_INFO) {
        out.msgpool = clamped(d.queues);
        out.msgmap = clamped(d.messages);
        out.msgtql = clamped(d.bytes);
    } else {
        out.msgpool = clamped(msgpool);           // MSGPOOL, in kilobytes
        out.msgmap = clamped(d.default_capacity); // MSGMAP
        out.msgtql = clamped(d.default_capacity); // MSGTQL
    }
    return d.highest_index ? clamped(*d.highest_index) : 0;
}

} // namespace seqmq::detail::capi

namespace {

using seqmq::detail::capi::errno_of;

template <class T>
T fail_with(const std::error_code& e, T value) {
    errno = errno_of(e);
    return value;
}

seqmq::timeout connect_wait(const seqmq_options_t& o) {
    if (o.connect_timeout_ms < 0)
        return std::chrono::milliseconds(INT_MAX); // about 25 days: for ever, in practice
    if (o.connect_timeout_ms == 0)
        return std::nullopt;
    return std::chrono::milliseconds(o.connect_timeout_ms);
}

const std::byte* mtext(const void* msgp) {
    return static_cast<const std::byte*>(msgp) + sizeof(long);
}

// msgsnd on a daemon queue; msgp and msgsz have been checked.
int queue_msgsnd(seqmq::queue& dq, long type, const void* msgp, size_t msgsz, int msgflg,
                 seqmq::timeout wait_limit) {
    // The kernel says EINVAL for a queue id that is gone; EIDRM only to those it was waiting for.
    if (seqmq::detail::queue_known_removed(dq)) {
        errno = EINVAL;
        return -1;
    }
    auto flags = (msgflg & IPC_NOWAIT) ? seqmq::send_flags::nowait : seqmq::send_flags::none;
    auto r = dq.send(type, std::span(mtext(msgp), msgsz), flags, wait_limit);
    if (!r) {
        if (r.error() == std::errc::message_size)
            return fail_with(std::make_error_code(std::errc::invalid_argument), -1);
        return fail_with(r.error(), -1);
    }
    return 0;
}

} // namespace

extern "C" {

void seqmq_options_init(seqmq_options_t* opts) {
    if (!opts)
        return;
    seqmq::mailbox_options m;
    opts->capacity = m.capacity;
    opts->max_message_size = m.max_message_size;
    opts->connect_timeout_ms = 0;
    opts->mode = -1;
    opts->owner_uid = static_cast<uid_t>(-1);
    opts->owner_gid = static_cast<gid_t>(-1);
    opts->require_owner = static_cast<uid_t>(-1);
}

seqmq_t* seqmq_mailbox_open(const char* address, const seqmq_options_t* opts) {
    if (!address)
        return fail_with<seqmq_t*>(std::make_error_code(std::errc::invalid_argument), nullptr);
    auto where = seqmq::address::parse(address);
    if (!where)
        return fail_with<seqmq_t*>(where.error(), nullptr);
    seqmq::mailbox_options o;
    if (opts) {
        o.capacity = opts->capacity;
        o.max_message_size = opts->max_message_size;
        if (opts->mode != -1) {
            if (opts->mode < 0 || opts->mode > 0777)
                return fail_with<seqmq_t*>(std::make_error_code(std::errc::invalid_argument),
                                           nullptr);
            o.mode = unsigned(opts->mode);
        }
        if (opts->owner_uid != static_cast<uid_t>(-1))
            o.owner_uid = opts->owner_uid;
        if (opts->owner_gid != static_cast<gid_t>(-1))
            o.owner_gid = opts->owner_gid;
    }
    auto m = seqmq::mailbox::open(*where, o);
    if (!m)
        return fail_with<seqmq_t*>(m.error(), nullptr);
    auto* q = new (std::nothrow) seqmq_handle{std::move(*m)};
    if (!q)
        errno = ENOMEM;
    return q;
}

seqmq_t* seqmq_connect(const char* address, const seqmq_options_t* opts) {
    if (!address)
        return fail_with<seqmq_t*>(std::make_error_code(std::errc::invalid_argument), nullptr);
    auto where = seqmq::address::parse(address);
    if (!where)
        return fail_with<seqmq_t*>(where.error(), nullptr);
    seqmq_options_t defaults;
    seqmq_options_init(&defaults);
    const seqmq_options_t& o = opts ? *opts : defaults;
    seqmq::sender_options so;
    so.max_message_size = o.max_message_size;
    so.wait_for_mailbox = connect_wait(o);
    if (o.require_owner != static_cast<uid_t>(-1))
        so.require_owner = o.require_owner;
    auto s = seqmq::sender::connect(*where, so);
    if (!s)
        return fail_with<seqmq_t*>(s.error(), nullptr);
    auto* q = new (std::nothrow) seqmq_handle{std::move(*s)};
    if (!q)
        errno = ENOMEM;
    return q;
}

seqmq_t* seqmq_queue_open(const char* name, int flags, int mode) {
    const unsigned perms = static_cast<unsigned>((mode | flags) & 0777);
    seqmq::result<seqmq::queue> dq = std::unexpected(std::error_code());
    if (!name) {
        dq = seqmq::queue::create_private(perms);
    } else {
        auto how = seqmq::open_flags::none;
        if (flags & IPC_CREAT)
            how = how | seqmq::open_flags::create;
        if (flags & IPC_EXCL)
            how = how | seqmq::open_flags::exclusive;
        dq = seqmq::queue::open(name, how, perms);
    }
    if (!dq)
        return fail_with<seqmq_t*>(dq.error(), nullptr);
    auto* q = new (std::nothrow) seqmq_handle{std::move(*dq)};
    if (!q)
        errno = ENOMEM;
    return q;
}

int seqmq_msgctl(seqmq_t* q, int cmd, struct msqid_ds* buf) {
    seqmq::queue* dq = q ? std::get_if<seqmq::queue>(&q->end) : nullptr;
    if (!dq || (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID)) {
        errno = EINVAL;
        return -1;
    }
    if (seqmq::detail::queue_known_removed(*dq)) {
        errno = EINVAL;
        return -1;
    }
    if (cmd == IPC_RMID) {
        auto r = dq->remove();
        return r ? 0 : fail_with(r.error(), -1);
    }
    if (!buf) {
        errno = EFAULT;
        return -1;
    }
    if (cmd == IPC_SET) {
        seqmq::queue_settings s;
        s.mode = buf->msg_perm.mode & 0777;
        s.uid = buf->msg_perm.uid;
        s.gid = buf->msg_perm.gid;
        s.capacity = buf->msg_qbytes;
        auto r = dq->set(s);
        return r ? 0 : fail_with(r.error(), -1);
    }
    auto st = dq->stat();
    if (!st)
        return fail_with(st.error(), -1);
    seqmq::detail::capi::fill_msqid_ds(*st, *buf);
    return 0;
}

int seqmq_daemon_msgctl(int msqid, int cmd, struct msqid_ds* buf) {
    if (msqid < 0 ||
        (cmd != IPC_INFO && cmd != MSG_INFO && cmd != MSG_STAT && cmd != MSG_STAT_ANY)) {
        errno = EINVAL;
        return -1;
    }
    // As Linux: buf is written (EFAULT) only once the answer is known.
    if (cmd == IPC_INFO || cmd == MSG_INFO) {
        auto d = seqmq::queue::info();
        if (!d)
            return fail_with(d.error(), -1);
        msginfo info;
        const int highest = seqmq::detail::capi::fill_msginfo(*d, cmd, info);
        if (!buf) {
            errno = EFAULT;
            return -1;
        }
        std::memcpy(buf, &info, sizeof info);
        return highest;
    }
    auto st = seqmq::queue::stat_index(std::uint32_t(msqid),
                                       cmd == MSG_STAT_ANY ? seqmq::stat_check::none
                                                           : seqmq::stat_check::read_permission);
    if (!st)
        return fail_with(st.error(), -1);
    if (!buf) {
        errno = EFAULT;
        return -1;
    }
    seqmq::detail::capi::fill_msqid_ds(*st, *buf);
    return int(st->id);
}

int seqmq_close(seqmq_t* q) {
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    delete q;
    return 0;
}

int seqmq_msgsnd(seqmq_t* q, const void* msgp, size_t msgsz, int msgflg) {
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    auto* s = std::get_if<seqmq::sender>(&q->end);
    auto* dq = std::get_if<seqmq::queue>(&q->end);
    if (!s && !dq)
        return fail_with(make_error_code(seqmq::errc::wrong_role), -1);
    if (static_cast<long>(msgsz) < 0) { // as Linux: checked before anything else
        errno = EINVAL;
        return -1;
    }
    if (!msgp) {
        errno = EFAULT;
        return -1;
    }
    long type;
    std::memcpy(&type, msgp, sizeof type);
    // Linux checks the size against msgmax before the type, and says EINVAL for both.
    const std::size_t max = dq ? dq->max_message_size() : s->max_message_size();
    if (seqmq::detail::sysv::check_send(type, msgsz, max) != seqmq::detail::sysv::send_check::ok) {
        errno = EINVAL;
        return -1;
    }
    if (dq)
        return queue_msgsnd(*dq, type, msgp, msgsz, msgflg, q->wait_limit);
    auto flags = (msgflg & IPC_NOWAIT) ? seqmq::send_flags::nowait : seqmq::send_flags::none;
    auto r = s->send(type, std::span(mtext(msgp), msgsz), flags);
    if (!r) {
        if (r.error() == std::errc::message_size) // the mailbox's limit, learned late
            return fail_with(std::make_error_code(std::errc::invalid_argument), -1);
        return fail_with(r.error(), -1);
    }
    return 0;
}

ssize_t seqmq_msgrcv(seqmq_t* q, void* msgp, size_t msgsz, long msgtyp, int msgflg) {
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    auto* m = std::get_if<seqmq::mailbox>(&q->end);
    auto* dq = std::get_if<seqmq::queue>(&q->end);
    if (!m && !dq)
        return fail_with(make_error_code(seqmq::errc::wrong_role), ssize_t(-1));
    if (static_cast<long>(msgsz) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (!msgp) {
        errno = EFAULT;
        return -1;
    }
    const bool noerror = msgflg & MSG_NOERROR;
    auto* text = static_cast<std::byte*>(msgp) + sizeof(long);
    auto put_type = [&](long type) { std::memcpy(msgp, &type, sizeof type); };

    if (msgflg & SEQMQ_MSG_COPY) {
        // As Linux: MSG_COPY needs IPC_NOWAIT and excludes MSG_EXCEPT; position = msgtyp.
        if ((msgflg & SEQMQ_MSG_EXCEPT) || !(msgflg & IPC_NOWAIT)) {
            errno = EINVAL;
            return -1;
        }
        if (msgtyp < 0) {
            errno = ENOMSG;
            return -1;
        }
        if (dq && seqmq::detail::queue_known_removed(*dq)) {
            errno = EINVAL;
            return -1;
        }
        auto c = m ? m->peek_at(static_cast<std::size_t>(msgtyp))
                   : dq->peek_at(static_cast<std::size_t>(msgtyp));
        if (!c)
            return fail_with(c.error(), ssize_t(-1));
        if (c->data.size() > msgsz) {
            // Linux fails E2BIG without MSG_NOERROR, and EINVAL with it (the copy does not fit).
            errno = noerror ? EINVAL : E2BIG;
            return -1;
        }
        put_type(c->type);
        if (!c->data.empty()) // data() of an empty vector may be null: memcpy must not see it
            std::memcpy(text, c->data.data(), c->data.size());
        return static_cast<ssize_t>(c->data.size());
    }

    seqmq::selector which{msgtyp, (msgflg & SEQMQ_MSG_EXCEPT) != 0};
    auto flags = seqmq::receive_flags::none;
    if (msgflg & IPC_NOWAIT)
        flags = flags | seqmq::receive_flags::nowait;
    if (noerror)
        flags = flags | seqmq::receive_flags::noerror;
    if (dq && seqmq::detail::queue_known_removed(*dq)) {
        errno = EINVAL;
        return -1;
    }
    auto r = m ? m->receive(std::span(text, msgsz), which, flags)
               : dq->receive(std::span(text, msgsz), which, flags, q->wait_limit);
    if (!r)
        return fail_with(r.error(), ssize_t(-1));
    put_type(r->type);
    return static_cast<ssize_t>(r->size);
}

int seqmq_fd(seqmq_t* q) {
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    return std::visit([](const auto& end) { return end.native_handle(); }, q->end);
}

} // extern "C"

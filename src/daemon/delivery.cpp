#include "daemon/delivery.hpp"

#include "sys/syscall.hpp"
#include "wire/daemon_protocol.hpp"

#include <array>
#include <cerrno>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace seqmq::daemon {

using namespace seqmq::detail;
namespace p = seqmq::detail::proto;

result<std::unique_ptr<delivery_socket>> delivery_socket::create(std::size_t window_bytes) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return std::unexpected(last_error());
    unique_fd writer(sv[0]), reader(sv[1]);
    // The kernel doubles what it is given (for its bookkeeping) and counts that.
    const int half = int(std::min<std::size_t>(window_bytes / 2, 1u << 30));
    if (::setsockopt(writer.get(), SOL_SOCKET, SO_SNDBUF, &half, sizeof half) < 0)
        return std::unexpected(last_error());
    // Receivers only read: a write from one of them would reach the daemon's writing end.
    ::shutdown(reader.get(), SHUT_WR);
    return std::unique_ptr<delivery_socket>(
        new delivery_socket(std::move(writer), std::move(reader)));
}

void delivery_socket::push_size(std::uint32_t size, kind k) {
    if (count_ == sizes_.size()) {
        std::vector<std::uint32_t> grown(std::max<std::size_t>(64, sizes_.size() * 2));
        for (std::size_t i = 0; i < count_; ++i)
            grown[i] = sizes_[(head_ + i) % sizes_.size()];
        sizes_ = std::move(grown);
        head_ = 0;
    }
    sizes_[(head_ + count_) % sizes_.size()] = size | std::uint32_t(k);
    ++count_;
    unread_bytes_ += size;
    asks_ += k == kind::ask;
}

delivery_socket::kind delivery_socket::pop_size() noexcept {
    const std::uint32_t entry = sizes_[head_];
    head_ = (head_ + 1) % sizes_.size();
    --count_;
    unread_bytes_ -= entry & ~kind_bits;
    const kind k = kind(entry & kind_bits);
    asks_ -= k == kind::ask;
    return k;
}

void delivery_socket::write_header(std::int64_t type, std::uint64_t sequence, pid_t sender,
                                   bool ask) {
    p::start_record(record_, ask ? frame_kind::control_reply : frame_kind::data, type, sequence);
    p::writer(record_).i32(sender).u32(0).u32(epoch_).u32(number_ + 1);
}

delivery_socket::written delivery_socket::write(const queued_message& m) {
    write_header(m.type, m.arrival, m.sender_pid, false);
    p::writer(record_).bytes(m.payload());
    return send_record(kind::message);
}

delivery_socket::written delivery_socket::write_ask(p::opcode op) {
    write_header(std::int64_t(op), 0, 0, true);
    return send_record(op == p::opcode::ask ? kind::ask : kind::notice);
}

delivery_socket::written delivery_socket::send_record(kind k) {
    p::finish_record(record_);
    const ssize_t n = retry_eintr([&] {
        return ::send(writer_.get(), record_.data(), record_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    });
    if (n < 0)
        return written::full; // EAGAIN; nothing else can fail: the daemon holds the other end
    push_size(std::uint32_t(record_.size()), k);
    ++number_;
    return written::yes;
}

delivery_socket::taken_records delivery_socket::taken() {
    taken_records t;
    if (count_ == 0)
        return t;
    int unread = 0;
    if (::ioctl(reader_.get(), SIOCINQ, &unread) < 0)
        return t;
    while (count_ > 0 && unread_bytes_ > std::size_t(unread)) {
        if (pop_size() == kind::message)
            ++t.messages;
        else
            ++t.others;
    }
    return t;
}

void delivery_socket::reclaim(std::vector<std::uint64_t>& returned) {
    // Only the headers are needed (the queue still holds the messages): a SEQPACKET read into a
    // short buffer takes the whole record and drops the rest.
    constexpr std::size_t batch = 16;
    std::array<std::array<std::byte, frame_header::size>, batch> heads;
    std::array<iovec, batch> iov;
    std::array<mmsghdr, batch> msgs{};
    for (std::size_t i = 0; i < batch; ++i) {
        iov[i] = {heads[i].data(), heads[i].size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        const int n = retry_eintr([&] {
            return ::recvmmsg(reader_.get(), msgs.data(), unsigned(batch), MSG_DONTWAIT, nullptr);
        });
        if (n <= 0)
            break;
        for (int i = 0; i < n; ++i)
            if (auto h = decode_prefix(std::span<const std::byte>(heads[std::size_t(i)]));
                h && h->kind == frame_kind::data)
                returned.push_back(h->sequence);
        if (n < int(batch))
            break;
    }
    head_ = count_ = unread_bytes_ = asks_ = 0;
    new_epoch();
}

} // namespace seqmq::daemon

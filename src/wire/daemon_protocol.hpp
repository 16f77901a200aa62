#pragma once

// The protocol between seqmq::queue clients and seqmqd. Every record is one SEQPACKET record:
// a frame_header and a payload laid out below, all integers big-endian.
//
//   client -> daemon   kind control_request: type = opcode, sequence = per-connection count
//                      kind data: a credited send; type = mtype, payload = mtext; it takes the
//                      next sequence number too, so every record from a client is numbered
//   daemon -> client   kind control_reply: type = opcode of the request answered, sequence =
//                      that request's sequence; or a notice (grant, revoke, removed, closing)
//                      with sequence 0
//
// Every reply payload starts with a result: i32 errno (0: success), u32 zero; a body follows on
// success only. A connection serves one queue once `open` succeeded; `info`, `list_queues` and
// `stat_index` need no queue.

#include "wire/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seqmq::detail::proto {

enum class opcode : std::int64_t {
    // requests
    open = 1,          ///< open_request -> open_reply
    send = 2,          ///< send_request -> (empty); the round-trip send, for sends without credit
    receive = 3,       ///< receive_request -> message_body; the client acks it
    peek = 4,          ///< peek_request -> message_body
    peek_at = 5,       ///< peek_at_request -> message_body
    list = 6,          ///< list_request -> list parts of message entries
    stat = 7,          ///< (empty) -> stat_body
    set = 8,           ///< set_request -> (empty)
    remove = 9,        ///< (empty) -> (empty)
    info = 10,         ///< (empty) -> info_body
    list_queues = 11,  ///< (empty) -> list parts of stat_body entries
    cancel = 12,       ///< u64 sequence of a waiting request; that request is answered ECANCELED
    release = 13,      ///< (empty): forget this connection's unused credit (answers revoke)
    ack = 14,          ///< u64 arrival: the oldest delivered message reached the client; no reply
    sync = 15,         ///< (empty) -> (empty): every earlier record of this connection is served
    receive_many = 16, ///< receive_many_request -> batch_header + entries; the client acks them
    ack_many = 17,     ///< ack_many_body: the oldest `count` delivered messages reached the client
    send_many = 18,    ///< send_many_request -> u64 messages queued; sends without credit
    /// u64 buffer: the smallest buffer this handle will take messages from the delivery socket
    /// with (UINT64_MAX: it truncates, MSG_NOERROR) -> (empty), carrying the queue's delivery
    /// socket (SCM_RIGHTS); EOPNOTSUPP where descriptors cannot be passed.
    attach = 19,
    /// u64 count: messages this handle took from the delivery socket since it last said so;
    /// u32 taken_bits; u32 0. No reply.
    taken = 20,
    /// (empty): this handle found the delivery socket empty and waits on it; no reply
    wait_delivery = 21,
    /// stat_index_request -> stat_body: msgctl's MSG_STAT / MSG_STAT_ANY, the queue at an index
    /// (EINVAL none there; EACCES without read permission, unless stat_any)
    stat_index = 22,
    // notices, sequence 0
    grant = 100,   ///< grant_body: more credit for sends without a round trip
    revoke = 101,  ///< (empty): give back unused credit with `release`
    removed = 102, ///< (empty): the queue was removed
    closing = 103, ///< i32 errno, u32 0: the daemon is closing this connection, and why
    /// In a delivery socket, not a message: the head of the queue is longer than some
    /// receiver's buffer, so whoever takes this record makes this one receive a request.
    ask = 104,
    /// In a delivery socket: the receive of its taker, which waited, fails with E2BIG (the
    /// message due to it was longer than its buffer; it went on to the next receiver).
    too_long = 105,
};

std::string_view to_string(opcode op) noexcept;

/// Whether a record is judged by the ids it carries (SCM_CREDENTIALS): the requests seqmqd checks
/// permissions for, or that make a queue, and `release` (which a client sends when its ids
/// change: the connection's credit and delivery socket go). The others — sends on credit,
/// acks, `taken`, `wait_delivery`, `cancel`, `sync` — are one-way or check nothing: they carry
/// no ids (a send on credit was checked when the credit was granted, for the ids then), so the
/// hot path pays for no control message. Client and daemon both go by this.
constexpr bool carries_identity(frame_kind kind, std::int64_t type) noexcept {
    if (kind != frame_kind::control_request)
        return false;
    switch (opcode(type)) {
    case opcode::cancel:
    case opcode::ack:
    case opcode::ack_many:
    case opcode::sync:
    case opcode::taken:
    case opcode::wait_delivery:
        return false;
    default:
        return true;
    }
}

/// Flags of open_request.
enum open_bits : std::uint32_t {
    open_create = 1,    ///< IPC_CREAT
    open_exclusive = 2, ///< IPC_EXCL
    open_private = 4,   ///< IPC_PRIVATE: a new queue without a name
    open_by_id = 8,     ///< open the existing queue `id`; name empty
    /// Grant this connection no credit: each of its sends is a request answered once the
    /// message is queued (queue_options::exact_sysv).
    open_no_credit = 16,
};

/// Flags of send/receive/peek requests.
enum op_bits : std::uint32_t {
    op_nowait = 1,
    op_noerror = 2,
    op_except = 4,
};

/// Flags of a `taken` notice.
enum taken_bits : std::uint32_t {
    taken_wait_ended = 1, ///< its wait on the delivery socket ended with a record
    taken_gave_up = 2,    ///< ... ended without one (a timeout, a signal): nothing is due to it
};

/// Flags of stat_index_request.
enum stat_index_bits : std::uint32_t {
    stat_any = 1, ///< MSG_STAT_ANY: no read permission needed
};

/// Flags of list_request.
enum list_bits : std::uint32_t {
    list_with_data = 1,
};

/// Fields set_request changes.
enum set_bits : std::uint32_t {
    set_mode = 1,
    set_uid = 2,
    set_gid = 4,
    set_capacity = 8,
};

constexpr std::size_t max_name_length = 255;

// ---------------------------------------------------------------------------------------------
// The delivery socket. Receivers that hold the receiving end of a queue's delivery socket take
// the head of the queue with one recv each. Each record: a frame_header of kind data, type =
// mtype, sequence = the message's arrival number (an `ask` record: kind control_reply, type
// ask); then i32 sender pid, u32 delivery flags, u32 epoch, u32 number in the epoch, mtext.

/// Bytes before the mtext in a delivery record.
constexpr std::size_t delivery_header_size = frame_header::size + 16;

// One session at a time holds a queue's delivery socket (others get EBUSY from attach), and it
// takes records in their numbered order only: a record after a gap (the daemon read the missing
// one back) is not its to take, and it drops it — the message is back in the queue. The first
// record of an epoch is number 1. The u32 flags are zero.

// ---------------------------------------------------------------------------------------------
// Bodies. Layouts (offsets in the payload after the result for replies):

/// open: u32 flags, u32 mode, u64 capacity (0: daemon default), u64 id, name (rest, <= 255)
struct open_request {
    std::uint32_t flags = 0;
    std::uint32_t mode = 0;
    std::uint64_t capacity = 0;
    std::uint64_t id = 0;
    std::string name;
};

/// open reply: u64 id, u64 max_message_size, u64 capacity
struct open_reply {
    std::uint64_t id = 0;
    std::uint64_t max_message_size = 0;
    std::uint64_t capacity = 0;
};

/// send: i64 mtype, u32 flags, u32 0, mtext (rest)
struct send_request {
    std::int64_t type = 0;
    std::uint32_t flags = 0;
    std::span<const std::byte> text;
};

/// send_many: u32 flags (op_nowait only), u32 count (>= 1), then `count` batch entries as in a
/// data_batch record. The daemon queues them in order while each fits (msgsnd's check, credit
/// of other connections counted as used) and answers how many it queued; if the first does not
/// fit, it answers EAGAIN (op_nowait) or waits until the first fits and answers 1.
struct send_many_request {
    std::uint32_t flags = 0;
    std::uint32_t count = 0;
    std::span<const std::byte> entries;
};

/// receive: i64 msgtyp, u32 flags, u32 0, u64 buffer size
struct receive_request {
    std::int64_t type = 0;
    std::uint32_t flags = 0;
    std::uint64_t buffer = 0;
};

/// receive_many: i64 msgtyp, u32 flags, u32 0, u64 buffer (room for all payloads together),
/// u32 most messages (>= 1), u32 0. Messages are taken as successive receives would take them,
/// while each fits what is left of the buffer and the reply stays within one record; the first
/// is held to receive's rules (E2BIG, or truncated with op_noerror).
struct receive_many_request {
    std::int64_t type = 0;
    std::uint32_t flags = 0;
    std::uint64_t buffer = 0;
    std::uint32_t count = 0;
};

/// receive_many reply: u32 count (>= 1), u32 0, then `count` message entries (as list entries).
struct batch_header {
    static constexpr std::size_t size = 8;
    std::uint32_t count = 0;
};

/// ack_many: u64 count, u64 arrival of the last of them.
struct ack_many_body {
    std::uint64_t count = 0;
    std::uint64_t last_arrival = 0;
};

/// peek: i64 msgtyp, u32 flags (op_except only), u32 0
struct peek_request {
    std::int64_t type = 0;
    std::uint32_t flags = 0;
};

/// message: i64 type, u64 arrival, i32 sender pid, u32 untruncated size, data (rest)
struct message_body {
    std::int64_t type = 0;
    std::uint64_t arrival = 0;
    std::int32_t sender_pid = 0;
    std::uint32_t size = 0; ///< the message's true size; data may be shorter (truncated)
    std::span<const std::byte> data;
};

/// list: u32 flags, u32 max bytes of data per entry
struct list_request {
    std::uint32_t flags = 0;
    std::uint32_t max_data = 0;
};

/// A list reply comes in parts, sent back to back (one snapshot):
///   u32 total entries, u32 entries in this part, u32 last (0|1), u32 0, entries
/// A message entry: i64 type, u64 arrival, i32 pid, u32 size, u32 data length, data.
/// A queue entry: a stat_body.
struct list_part_header {
    std::uint32_t total = 0;
    std::uint32_t count = 0;
    bool last = false;
};

/// stat: u64 id, u32 mode, u32 uid, u32 gid, u32 cuid, u32 cgid, u32 0, u64 count, u64 bytes,
/// u64 capacity, u64 max_message_size, i32 lspid, i32 lrpid, i64 stime, i64 rtime, i64 ctime
/// (nanoseconds since the epoch, 0 = never), u32 waiting receivers, u32 waiting senders,
/// u16 name length, name
struct stat_body {
    std::uint64_t id = 0;
    std::uint32_t mode = 0, uid = 0, gid = 0, cuid = 0, cgid = 0;
    std::uint64_t count = 0, bytes = 0, capacity = 0, max_message_size = 0;
    std::int32_t last_send_pid = 0, last_receive_pid = 0;
    std::int64_t send_time = 0, receive_time = 0, change_time = 0;
    std::uint32_t waiting_receivers = 0, waiting_senders = 0;
    std::string name;
};

/// stat_index: u32 index (only its low 15 bits count, as Linux's ipcid_to_idx), u32 flags
/// (stat_index_bits)
struct stat_index_request {
    std::uint32_t index = 0;
    std::uint32_t flags = 0;
};

/// set: u32 which (set_bits), u32 mode, u32 uid, u32 gid, u64 capacity
struct set_request {
    std::uint32_t which = 0;
    std::uint32_t mode = 0, uid = 0, gid = 0;
    std::uint64_t capacity = 0;
};

/// info: u64 queues, messages, bytes, clients, protocol errors, max queues, max queue bytes,
/// max message size, max clients, memory used, max memory, default capacity, i64 highest index
/// in use (-1: no queue); then the state directory: u32 sync policy (0: none, in memory;
/// 1 always, 2 batch, 3 none), u32 sync interval in ms, u64 store file bytes, u64 store bytes
/// used, i64 last sync (ns since the epoch; 0 never), and the directory's path (the rest)
struct info_body {
    std::uint64_t queues = 0, messages = 0, bytes = 0, clients = 0, protocol_errors = 0;
    std::uint64_t max_queues = 0, max_queue_bytes = 0, max_message_size = 0, max_clients = 0;
    std::uint64_t memory = 0, max_memory = 0;
    std::uint64_t default_capacity = 0;
    std::int64_t highest_index = -1;
    std::uint32_t sync_policy = 0; ///< 0: no state directory
    std::uint32_t sync_interval_ms = 0;
    std::uint64_t store_bytes = 0, store_used = 0;
    std::int64_t last_sync = 0;
    std::string state_dir;
};

/// grant: u64 bytes, u64 messages, u64 upto. Credit is queue space set aside for one connection.
/// A `send` request or a `release` zeroes the connection's credit on both sides; `upto` is the
/// last sequence number the daemon had processed when it granted, so a client that zeroed its
/// credit at sequence Z drops any grant with upto < Z (the daemon zeroed that one too).
struct grant_body {
    std::uint64_t bytes = 0;
    std::uint64_t messages = 0;
    std::uint64_t upto = 0;
};

// ---------------------------------------------------------------------------------------------
// Big-endian building and strict reading.

/// Appends big-endian fields to a record.
class writer {
public:
    explicit writer(std::vector<std::byte>& out) : out_(out) {}
    writer& u16(std::uint16_t v);
    writer& u32(std::uint32_t v);
    writer& u64(std::uint64_t v);
    writer& i32(std::int32_t v) { return u32(static_cast<std::uint32_t>(v)); }
    writer& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
    writer& bytes(std::span<const std::byte> b);
    writer& text(std::string_view s) { return bytes(std::as_bytes(std::span(s))); }

private:
    std::vector<std::byte>& out_;
};

/// Reads big-endian fields; any read past the end makes ok() false for good.
class reader {
public:
    explicit reader(std::span<const std::byte> in) : in_(in) {}
    std::uint16_t u16();
    std::uint32_t u32();
    std::uint64_t u64();
    std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
    std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
    std::span<const std::byte> bytes(std::size_t n);
    std::span<const std::byte> rest();
    std::size_t left() const noexcept { return ok_ ? in_.size() - at_ : 0; }
    bool ok() const noexcept { return ok_; }
    /// Everything read, nothing left over, nothing read past the end.
    bool done() const noexcept { return ok_ && at_ == in_.size(); }

private:
    bool take(std::size_t n) noexcept;
    template <class T>
    T number(); // the next big-endian T, or 0 (and not ok) past the end
    std::span<const std::byte> in_;
    std::size_t at_ = 0;
    bool ok_ = true;
};

/// Starts a record: a header of `kind` with type `type` and sequence `sequence`; the length is
/// filled in by finish().
std::vector<std::byte> start_record(frame_kind kind, std::int64_t type, std::uint64_t sequence);
/// Writes the payload length into the header. Returns the record.
std::vector<std::byte>& finish_record(std::vector<std::byte>& record);

/// A reply record: result errno, then (only if 0) a body the caller appends.
std::vector<std::byte> start_reply(opcode op, std::uint64_t sequence, int error);

/// As above, but into `out`, which is cleared first and keeps its capacity: a buffer reused for
/// every record makes no heap allocation once it has grown to the largest record.
void start_record(std::vector<std::byte>& out, frame_kind kind, std::int64_t type,
                  std::uint64_t sequence);
void start_reply(std::vector<std::byte>& out, opcode op, std::uint64_t sequence, int error);

// Encoders append a body to a record begun with start_record/start_reply.
void encode(writer& w, const open_request& r);
void encode(writer& w, const open_reply& r);
void encode(writer& w, const send_request& r);
void encode(writer& w, const receive_request& r);
void encode(writer& w, const send_many_request& r);
void encode(writer& w, const receive_many_request& r);
void encode(writer& w, const batch_header& r);
void encode(writer& w, const ack_many_body& r);
void encode(writer& w, const peek_request& r);
void encode(writer& w, const message_body& r);
void encode(writer& w, const list_request& r);
void encode(writer& w, const list_part_header& r);
void encode_entry(writer& w, const message_body& r); ///< a list entry (data length explicit)
void encode(writer& w, const stat_body& r);
void encode(writer& w, const stat_index_request& r);
void encode(writer& w, const set_request& r);
void encode(writer& w, const info_body& r);
void encode(writer& w, const grant_body& r);

// Decoders read one whole body; they return nullopt for any malformed input: short, overlong,
// reserved fields not zero, flags outside their set, a name too long.
std::optional<open_request> decode_open_request(std::span<const std::byte> in);
std::optional<open_reply> decode_open_reply(reader& r);
std::optional<send_request> decode_send_request(std::span<const std::byte> in);
std::optional<receive_request> decode_receive_request(std::span<const std::byte> in);
std::optional<send_many_request> decode_send_many_request(std::span<const std::byte> in);
std::optional<receive_many_request> decode_receive_many_request(std::span<const std::byte> in);
std::optional<batch_header> decode_batch_header(reader& r);
std::optional<ack_many_body> decode_ack_many(std::span<const std::byte> in);
std::optional<peek_request> decode_peek_request(std::span<const std::byte> in);
std::optional<message_body> decode_message(reader& r);
std::optional<list_request> decode_list_request(std::span<const std::byte> in);
std::optional<list_part_header> decode_list_part(reader& r);
std::optional<message_body> decode_entry(reader& r);
std::optional<stat_body> decode_stat(reader& r);
std::optional<stat_index_request> decode_stat_index_request(std::span<const std::byte> in);
std::optional<set_request> decode_set_request(std::span<const std::byte> in);
std::optional<info_body> decode_info(reader& r);
std::optional<grant_body> decode_grant(std::span<const std::byte> in);
/// A request body of a single u64 (cancel, ack, peek_at).
std::optional<std::uint64_t> decode_u64(std::span<const std::byte> in);

/// Reads the result at the start of a reply: the errno (0 on success). nullopt if malformed.
std::optional<int> decode_result(reader& r);

} // namespace seqmq::detail::proto

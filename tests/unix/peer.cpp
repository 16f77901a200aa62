// A sender process for the multi-process tests (fork + exec'd by them).
//   seqmq_test_peer ADDRESS ID COUNT SIZE TYPES [MODE]
// Sends COUNT messages of SIZE bytes (>= 16) to ADDRESS; message i has type TYPES[i % n]
// (TYPES is comma-separated) and starts with "ID:i". MODE "nowait" sends with nowait and waits
// for POLLOUT itself, printing "blocked N" (how often the mailbox pushed back) at the end.
// Exit status: 0 sent all; 3 the mailbox went away (identifier_removed); 1 other error.
#include <seqmq/sender.hpp>

#include <cstdio>
#include <cstring>
#include <poll.h>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: %s ADDRESS ID COUNT SIZE TYPES [nowait]\n", argv[0]);
        return 2;
    }
    auto where = seqmq::address::parse(argv[1]);
    if (!where) {
        std::fprintf(stderr, "peer: %s: %s\n", argv[1], where.error().message().c_str());
        return 2;
    }
    const long id = std::stol(argv[2]), count = std::stol(argv[3]);
    const std::size_t size = std::stoul(argv[4]);
    std::vector<long> types;
    for (std::string t = argv[5]; !t.empty();) {
        auto comma = t.find(',');
        types.push_back(std::stol(t.substr(0, comma)));
        t = comma == std::string::npos ? "" : t.substr(comma + 1);
    }
    const bool nowait = argc > 6 && std::string(argv[6]) == "nowait";

    seqmq::sender_options options;
    options.wait_for_mailbox = std::chrono::seconds(10);
    auto s = seqmq::sender::connect(*where, options);
    if (!s) {
        std::fprintf(stderr, "peer %ld: connect: %s\n", id, s.error().message().c_str());
        return 1;
    }
    std::vector<std::byte> payload(size);
    long blocked = 0;
    for (long i = 0; i < count; ++i) {
        std::snprintf(reinterpret_cast<char*>(payload.data()), size, "%ld:%ld", id, i);
        const long type = types[std::size_t(i) % types.size()];
        for (;;) {
            auto r = s->send(type, payload,
                             nowait ? seqmq::send_flags::nowait : seqmq::send_flags::none);
            if (r)
                break;
            if (r.error() == std::errc::resource_unavailable_try_again) {
                ++blocked;
                pollfd p{s->native_handle(), POLLOUT, 0};
                ::poll(&p, 1, 10000);
                continue;
            }
            std::fprintf(stderr, "peer %ld: send %ld: %s\n", id, i, r.error().message().c_str());
            return r.error() == std::errc::identifier_removed ? 3 : 1;
        }
    }
    if (nowait)
        std::printf("blocked %ld\n", blocked);
    return 0;
}

#include "access/permissions.hpp"

#include <algorithm>
#include <cerrno>

namespace seqmq::detail {

namespace {

enum class membership { member, not_member, unknown };

membership in_group(const credentials& who, gid_t g) noexcept {
    if (who.gid == g)
        return membership::member;
    if (!who.groups)
        return membership::unknown;
    return std::find(who.groups->begin(), who.groups->end(), g) != who.groups->end()
               ? membership::member
               : membership::not_member;
}

// Supplementary groups; std::nullopt when they cannot be read, so that permissions fail closed.
std::optional<std::vector<gid_t>> read_groups(int fd) {
    std::vector<gid_t> g(64);
    socklen_t len = socklen_t(g.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g.data(), &len) < 0) {
        if (errno != ERANGE)
            return std::nullopt;
        g.resize(len / sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g.data(), &len) < 0)
            return std::nullopt;
    }
    if (len > g.size() * sizeof(gid_t))
        return std::nullopt;
    g.resize(len / sizeof(gid_t));
    return g;
}

} // namespace

credentials credentials_of(int fd, bool has_credentials, uid_t uid, gid_t gid) {
    credentials who;
    who.known = has_credentials;
    who.uid = uid;
    who.gid = gid;
    if (who.known)
        who.groups = read_groups(fd);
    return who;
}

bool permitted(const credentials& who, const ipc_perm& perm, unsigned flag) noexcept {
    if (who.is_root())
        return true;
    const unsigned requested = ((flag >> 6) | (flag >> 3) | flag) & 0007;
    unsigned granted = perm.mode & 0007;
    if (who.known && (who.uid == perm.cuid || who.uid == perm.uid)) {
        granted = (perm.mode >> 6) & 0007;
    } else if (who.known) {
        const membership c = in_group(who, perm.cgid), g = in_group(who, perm.gid);
        if (c == membership::member || g == membership::member)
            granted = (perm.mode >> 3) & 0007;
        else if (c == membership::unknown || g == membership::unknown)
            granted &= (perm.mode >> 3) & 0007;
    }
    return (requested & ~granted) == 0;
}

bool owns(const credentials& who, const ipc_perm& perm) noexcept {
    return who.is_root() || (who.known && (who.uid == perm.cuid || who.uid == perm.uid));
}

} // namespace seqmq::detail

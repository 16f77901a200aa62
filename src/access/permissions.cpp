#include "daemon/model/permissions.hpp"

#include <algorithm>

namespace seqmq::daemon::model {

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

} // namespace

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

} // namespace seqmq::daemon::model

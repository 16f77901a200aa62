#!/usr/bin/perl
# Perl's IPC::Msg (core Perl) driving System V queues: one line per call, deterministic, the
# same on the kernel and under libseqmq-sysv.so (test_shim compares the two runs line for line).
use strict;
use warnings;
use IPC::SysV qw(IPC_PRIVATE IPC_CREAT IPC_EXCL IPC_NOWAIT IPC_RMID S_IRUSR S_IWUSR MSG_NOERROR);
use IPC::Msg;
use Errno;

$| = 1;
my $key = 0x5e9a0077;

sub say_result {
    my ($what, $ok) = @_;
    if ($ok) {
        print "$what: ok\n";
    } else {
        my $name = (sort grep { $!{$_} } keys %!)[0] // "?";
        print "$what: failed $name\n";
    }
}

my $q = IPC::Msg->new($key, IPC_CREAT | IPC_EXCL | S_IRUSR | S_IWUSR);
say_result("create key", defined $q);
say_result("create again, exclusive", defined IPC::Msg->new($key, IPC_CREAT | IPC_EXCL | 0600));
my $same = IPC::Msg->new($key, 0);
say_result("open existing", defined $same && $same->id == $q->id);
say_result("open missing", defined IPC::Msg->new($key + 1, 0));

for my $i (1 .. 3) {
    say_result("send type $i", $q->snd($i, "song $i", IPC_NOWAIT));
}
say_result("send type 2 again", $q->snd(2, "encore", IPC_NOWAIT));

my $st = $q->stat;
print "stat: qnum ", $st->qnum, " qbytes ", $st->qbytes, " uid is me ", ($st->uid == $>) ? 1 : 0,
    " mode ", sprintf("%o", $st->mode & 0777), "\n";

my $buf;
my $type = $q->rcv($buf, 100, 2, IPC_NOWAIT);
print "receive type 2: ", (defined $type ? "$type '$buf'" : "failed"), "\n";
$type = $q->rcv($buf, 100, -3, IPC_NOWAIT);
print "receive lowest <= 3: ", (defined $type ? "$type '$buf'" : "failed"), "\n";
$type = $q->rcv($buf, 3, 0, IPC_NOWAIT);
say_result("receive into 3 bytes", defined $type);
$type = $q->rcv($buf, 3, 0, IPC_NOWAIT | MSG_NOERROR);
print "receive into 3 bytes, MSG_NOERROR: ", (defined $type ? "$type '$buf'" : "failed"), "\n";
$type = $q->rcv($buf, 100, 0, IPC_NOWAIT);
print "receive any: ", (defined $type ? "$type '$buf'" : "failed"), "\n";
$type = $q->rcv($buf, 100, 0, IPC_NOWAIT);
say_result("receive from empty", defined $type);

# A byte limit reached: msg_qbytes 64, then sends until EAGAIN.
$st = $q->stat;
$st->qbytes(64);
say_result("set qbytes 64", $q->set($st));
my $sent = 0;
$sent++ while $q->snd(1, "x" x 10, IPC_NOWAIT);
print "sent before full: $sent\n";
say_result("send when full", 0);
$st = $q->stat;
print "stat: qnum ", $st->qnum, " qbytes ", $st->qbytes, " uid is me ", ($st->uid == $>) ? 1 : 0, "\n";

my $p = IPC::Msg->new(IPC_PRIVATE, S_IRUSR | S_IWUSR);
say_result("private queue", defined $p && $p->id != $q->id);
say_result("remove private", $p->remove);
say_result("remove key", $q->remove);
say_result("send after remove", $q->snd(1, "late", IPC_NOWAIT));
print "== done\n";

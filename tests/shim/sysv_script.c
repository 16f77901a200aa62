/* A plain System V program: <sys/msg.h> and the C library, nothing of seqmq. It runs one fixed
 * script of message-queue calls and prints one line per call (its result, or -1 and the errno's
 * name), so that a run on the kernel's queues and a run under libseqmq-sysv.so can be compared
 * line for line (tests/shim/shim_test.cpp). Nothing it prints depends on the pids or times it
 * gets, only on whether they are as SysV says. Ids it prints as they come: Linux numbers the
 * queues of a fresh IPC namespace as seqmqd numbers its own from its start (0, 1, 2, ...), so
 * the two runs give the same ones. The limits IPC_INFO reports it prints too: a fresh
 * namespace's (msgmni 32000, msgmax 8192, msgmnb 16384), which the test starts seqmqd with.
 *
 *   sysv_script                     the whole script
 *   sysv_script --no-bad-pointers   without the calls given bad pointers (EFAULT): a preloaded
 *                                   AddressSanitizer runtime checks msgsnd/msgrcv buffers in
 *                                   its own interceptors, before the shim is reached
 *   sysv_script --keys-split        for a run where some keys go to seqmq and the others to the
 *                                   kernel (SEQMQ_SYSV_KEYS): ids printed as "id" (each side
 *                                   numbers its own; the shim shows the kernel's with bit 30
 *                                   set), and without the part on IPC_INFO, MSG_INFO and
 *                                   MSG_STAT (each side counts its own queues)
 *   (the two options may be given together)
 *   sysv_script msgget KEY...       msgget(KEY, IPC_CREAT | 0600) for each key, one line each
 *                                   (ids as "id")
 */
#define _GNU_SOURCE /* MSG_EXCEPT, MSG_COPY */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY ((key_t)0x5e9a0001)
#define KEY2 ((key_t)0x5e9a0002)
#define KEY3 ((key_t)0x5e9a0003)
#define NO_SUCH_ID 999999

struct message {
    long mtype;
    char mtext[8192 + 16];
};

static const char* errno_name(int e) {
    static char other[32];
    switch (e) {
    case EINVAL:
        return "EINVAL";
    case ENOENT:
        return "ENOENT";
    case EEXIST:
        return "EEXIST";
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case ENOSPC:
        return "ENOSPC";
    case ENOMSG:
        return "ENOMSG";
    case EAGAIN:
        return "EAGAIN";
    case E2BIG:
        return "E2BIG";
    case EFAULT:
        return "EFAULT";
    case EIDRM:
        return "EIDRM";
    case EINTR:
        return "EINTR";
    case ENOMEM:
        return "ENOMEM";
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ECONNRESET:
        return "ECONNRESET";
    default:
        snprintf(other, sizeof other, "errno %d", e);
        return other;
    }
}

static void line(const char* what, const char* result) {
    printf("%-58s %s\n", what, result);
    fflush(stdout);
}

/* A call's result: a number, or -1 and the errno's name. */
static void show(const char* what, long r) {
    char text[64];
    if (r < 0)
        snprintf(text, sizeof text, "-1 %s", errno_name(errno));
    else
        snprintf(text, sizeof text, "%ld", r);
    line(what, text);
}

/* Whether ids are printed as numbers (see the top). */
static int exact_ids = 1;

/* msgget's result: the id (or "id", without exact_ids), or -1 and the errno. */
static int show_id(const char* what, int id) {
    if (id >= 0 && !exact_ids)
        line(what, "id");
    else
        show(what, id);
    return id;
}

/* The index part of an id (Linux's ipcid_to_idx), what MSG_STAT takes. */
static int index_of(int id) {
    return id & 0x7fff;
}

static void show_yes(const char* what, int condition) {
    line(what, condition ? "yes" : "no");
}

/* msgrcv's result with the message it took. */
static void show_received(const char* what, long r, const struct message* m) {
    char text[160];
    if (r < 0)
        snprintf(text, sizeof text, "-1 %s", errno_name(errno));
    else
        snprintf(text, sizeof text, "%ld type %ld '%.*s'", r, m->mtype, (int)(r > 40 ? 40 : r),
                 m->mtext);
    line(what, text);
}

static int send_text(int id, long type, const char* text, int flags) {
    struct message m;
    m.mtype = type;
    size_t n = strlen(text);
    memcpy(m.mtext, text, n);
    return msgsnd(id, &m, n, flags);
}

static void show_send(int id, long type, const char* text, int flags) {
    char what[96];
    snprintf(what, sizeof what, "msgsnd type %ld '%s'%s", type, text,
             (flags & IPC_NOWAIT) ? " IPC_NOWAIT" : "");
    show(what, send_text(id, type, text, flags));
}

static void show_receive(int id, size_t size, long type, int flags, const char* flag_names) {
    struct message m;
    memset(&m, 0, sizeof m);
    char what[96];
    snprintf(what, sizeof what, "msgrcv size %zu type %ld%s", size, type, flag_names);
    show_received(what, msgrcv(id, &m, size, type, flags), &m);
}

/* The fields of IPC_STAT that do not depend on the run, and the others as yes/no. */
static void show_stat(const char* name, int id, key_t key, pid_t sender, pid_t receiver) {
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    char what[96];
    snprintf(what, sizeof what, "msgctl IPC_STAT %s", name);
    int r = msgctl(id, IPC_STAT, &ds);
    show(what, r);
    if (r < 0)
        return;
    char text[200];
    snprintf(text, sizeof text,
             "key %s mode %03o uid %s gid %s cuid %s cgid %s qnum %lu cbytes %lu qbytes %lu",
             ds.msg_perm.__key == key ? "=" : "!=", (unsigned)(ds.msg_perm.mode & 0777),
             ds.msg_perm.uid == geteuid() ? "=" : "!=", ds.msg_perm.gid == getegid() ? "=" : "!=",
             ds.msg_perm.cuid == geteuid() ? "=" : "!=", ds.msg_perm.cgid == getegid() ? "=" : "!=",
             (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
             (unsigned long)ds.msg_qbytes);
    line("  fields", text);
    /* receiver -1: another process's, not checked */
    snprintf(text, sizeof text, "lspid %s lrpid %s stime %s rtime %s ctime %s",
             ds.msg_lspid == sender ? "ok" : "wrong",
             receiver < 0               ? "-"
             : ds.msg_lrpid == receiver ? "ok"
                                        : "wrong",
             (ds.msg_stime != 0) == (sender != 0) ? "ok" : "wrong",
             receiver < 0                             ? "-"
             : (ds.msg_rtime != 0) == (receiver != 0) ? "ok"
                                                      : "wrong",
             ds.msg_ctime != 0 ? "ok" : "wrong");
    line("  times and pids", text);
}

static int set_queue(int id, unsigned mode, unsigned long qbytes) {
    struct msqid_ds ds;
    if (msgctl(id, IPC_STAT, &ds) < 0)
        return -1;
    ds.msg_perm.mode = (unsigned short)mode;
    ds.msg_qbytes = qbytes;
    return msgctl(id, IPC_SET, &ds);
}

static void show_set(int id, unsigned mode, unsigned long qbytes) {
    char what[96];
    snprintf(what, sizeof what, "msgctl IPC_SET mode %03o qbytes %lu", mode, qbytes);
    show(what, set_queue(id, mode, qbytes));
}

static void drain(int id) {
    struct message m;
    while (msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT | MSG_NOERROR) >= 0)
        ;
}

static void on_signal(int sig) {
    (void)sig;
}

/* SIGALRM, with SA_RESTART (which msgsnd and msgrcv ignore), in `ms` milliseconds. */
static void alarm_in(int ms) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval t;
    memset(&t, 0, sizeof t);
    t.it_value.tv_sec = ms / 1000;
    t.it_value.tv_usec = (ms % 1000) * 1000;
    setitimer(ITIMER_REAL, &t, NULL);
}

static void pause_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* What the parent did while a child ran, printed once the child is gone (so that the lines
 * come in one order whoever runs first). */
static char meanwhile_what[96];
static long meanwhile_result;
static int meanwhile_errno;

/* Runs `body` in a child, and `meanwhile` in the parent; prints how both ended. */
static void in_child(const char* name, void (*body)(int), int id, void (*meanwhile)(int)) {
    fflush(stdout);
    meanwhile_what[0] = 0;
    pid_t pid = fork();
    if (pid == 0) {
        body(id);
        fflush(stdout);
        _exit(0);
    }
    if (meanwhile)
        meanwhile(id);
    int status = 0;
    waitpid(pid, &status, 0);
    char what[96];
    snprintf(what, sizeof what, "%s: child exited", name);
    show(what, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (meanwhile_what[0]) {
        errno = meanwhile_errno;
        show(meanwhile_what, meanwhile_result);
    }
}

/* --- the script's parts ---------------------------------------------------------------------- */

static int part_create(void) {
    puts("== msgget");
    show_id("msgget KEY 0 (none yet)", msgget(KEY, 0));
    int id = show_id("msgget KEY IPC_CREAT|0600", msgget(KEY, IPC_CREAT | 0600));
    show_id("msgget KEY IPC_CREAT|IPC_EXCL|0600", msgget(KEY, IPC_CREAT | IPC_EXCL | 0600));
    show_yes("msgget KEY 0: the same id", msgget(KEY, 0) == id);
    show_yes("msgget KEY IPC_CREAT|0600: the same id", msgget(KEY, IPC_CREAT | 0600) == id);
    show_yes("msgget KEY 0400 (read bit asked): the same id", msgget(KEY, 0400) == id);
    int p1 = show_id("msgget IPC_PRIVATE 0600", msgget(IPC_PRIVATE, 0600));
    int p2 = show_id("msgget IPC_PRIVATE IPC_CREAT|IPC_EXCL|0640",
                     msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0640));
    show_yes("three different ids", id != p1 && id != p2 && p1 != p2);
    show_stat("KEY (new)", id, KEY, 0, 0);
    show_stat("private 0640 (new)", p2, IPC_PRIVATE, 0, 0);
    show("msgctl IPC_RMID private", msgctl(p1, IPC_RMID, NULL));
    show("msgctl IPC_RMID private", msgctl(p2, IPC_RMID, NULL));
    show("msgsnd to a removed private queue", send_text(p1, 1, "x", IPC_NOWAIT));
    show_set(id, 0640, 16384);
    show_stat("KEY after IPC_SET", id, KEY, 0, 0);
    return id;
}

static void part_selectors(int id) {
    pid_t me = getpid();
    puts("== typed sends and selective receives");
    show_send(id, 3, "three", 0);
    show_send(id, 1, "one-a", 0);
    show_send(id, 2, "two", 0);
    show_send(id, 1, "one-b", 0);
    show_send(id, 5, "five", 0);
    show_stat("KEY with 5 messages", id, KEY, me, 0);
    show_receive(id, 100, 1, 0, "");
    show_receive(id, 100, -2, 0, "");
    show_receive(id, 100, 2, MSG_EXCEPT, " MSG_EXCEPT");
    show_receive(id, 100, 4, IPC_NOWAIT, " IPC_NOWAIT");
    show_receive(id, 100, 0, MSG_COPY | IPC_NOWAIT, " (position) MSG_COPY|IPC_NOWAIT");
    show_receive(id, 100, 1, MSG_COPY | IPC_NOWAIT, " (position) MSG_COPY|IPC_NOWAIT");
    show_receive(id, 100, 2, MSG_COPY | IPC_NOWAIT, " (position) MSG_COPY|IPC_NOWAIT");
    show_receive(id, 100, -1, MSG_COPY | IPC_NOWAIT, " (position) MSG_COPY|IPC_NOWAIT");
    show_receive(id, 100, 0, MSG_COPY, " MSG_COPY alone");
    show_receive(id, 100, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT, " MSG_COPY|MSG_EXCEPT|IPC_NOWAIT");
    show_receive(id, 100, 0, 0, "");
    show_receive(id, 100, LONG_MIN, IPC_NOWAIT, " (LONG_MIN) IPC_NOWAIT");
    show_receive(id, 100, 0, IPC_NOWAIT, " IPC_NOWAIT");
    show_stat("KEY emptied", id, KEY, me, me);
}

static void part_sizes(int id) {
    puts("== E2BIG and MSG_NOERROR");
    show_send(id, 7, "0123456789", 0);
    show_receive(id, 4, 0, 0, "");
    show_receive(id, 4, 7, 0, "");
    show_receive(id, 4, 0, MSG_COPY | IPC_NOWAIT, " MSG_COPY|IPC_NOWAIT");
    show_receive(id, 4, 0, MSG_COPY | IPC_NOWAIT | MSG_NOERROR, " MSG_COPY|IPC_NOWAIT|MSG_NOERROR");
    show_stat("KEY: the message stayed", id, KEY, getpid(), getpid());
    show_receive(id, 4, 0, MSG_NOERROR, " MSG_NOERROR");
    show_receive(id, 0, 0, IPC_NOWAIT, " IPC_NOWAIT");
    show_send(id, 8, "", 0);
    show_receive(id, 0, 0, 0, "");
    struct message m;
    m.mtype = 1;
    memset(m.mtext, 'm', 8192);
    show("msgsnd 8192 bytes (msgmax)", msgsnd(id, &m, 8192, IPC_NOWAIT));
    show("msgsnd 8193 bytes", msgsnd(id, &m, 8193, IPC_NOWAIT));
    show_receive(id, 8192, 0, 0, "");
}

static void part_bad_arguments(int id) {
    puts("== bad arguments, in Linux's order");
    struct message m;
    m.mtype = 0;
    show("msgsnd mtype 0", msgsnd(id, &m, 1, IPC_NOWAIT));
    m.mtype = -5;
    show("msgsnd mtype -5", msgsnd(id, &m, 1, IPC_NOWAIT));
    m.mtype = 1;
    show("msgsnd msgsz (size_t)-1", msgsnd(id, &m, (size_t)-1, IPC_NOWAIT));
    show("msgsnd msqid -1", msgsnd(-1, &m, 1, IPC_NOWAIT));
    show("msgsnd no such msqid", msgsnd(NO_SUCH_ID, &m, 1, IPC_NOWAIT));
    show("msgrcv msgsz -1", msgrcv(id, &m, (size_t)-1, 0, IPC_NOWAIT));
    show("msgrcv msqid -1", msgrcv(-1, &m, 10, 0, IPC_NOWAIT));
    show("msgrcv no such msqid", msgrcv(NO_SUCH_ID, &m, 10, 0, IPC_NOWAIT));
    struct msqid_ds ds;
    show("msgctl IPC_STAT msqid -1", msgctl(-1, IPC_STAT, &ds));
    show("msgctl IPC_STAT no such msqid", msgctl(NO_SUCH_ID, IPC_STAT, &ds));
    show("msgctl IPC_RMID no such msqid", msgctl(NO_SUCH_ID, IPC_RMID, NULL));
    show("msgctl cmd 12345", msgctl(id, 12345, &ds));
    show("msgctl cmd -1", msgctl(id, -1, &ds));
}

static void part_bad_pointers(int id) {
    puts("== bad pointers: EFAULT where Linux reads or writes them");
    show("msgsnd msgp NULL", msgsnd(id, NULL, 1, IPC_NOWAIT));
    show("msgsnd msgp (void*)8", msgsnd(id, (void*)8, 1, IPC_NOWAIT));
    show("msgsnd msgp NULL, msqid -1", msgsnd(-1, NULL, 1, IPC_NOWAIT));
    /* An mtype the program can read, and an mtext on a page it cannot. */
    long page = sysconf(_SC_PAGESIZE);
    char* two =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(two + page, (size_t)page, PROT_NONE);
    struct message* edge = (struct message*)(two + page - sizeof(long));
    edge->mtype = 1;
    show("msgsnd mtext unreadable", msgsnd(id, edge, 16, IPC_NOWAIT));
    show("msgsnd mtext unreadable, msgsz 8193", msgsnd(id, edge, 8193, IPC_NOWAIT));
    edge->mtype = 0;
    show("msgsnd mtext unreadable, mtype 0", msgsnd(id, edge, 16, IPC_NOWAIT));
    edge->mtype = 1;
    show("msgsnd mtext unreadable, no such msqid", msgsnd(NO_SUCH_ID, edge, 16, IPC_NOWAIT));
    show("msgsnd mtext empty at the edge", msgsnd(id, edge, 0, IPC_NOWAIT));
    show_receive(id, 10, 0, IPC_NOWAIT, " IPC_NOWAIT");

    show("msgrcv msgp NULL, queue empty", msgrcv(id, NULL, 10, 0, IPC_NOWAIT));
    show_send(id, 4, "lost", 0);
    show("msgrcv msgp NULL: the message is taken", msgrcv(id, NULL, 10, 0, IPC_NOWAIT));
    show_send(id, 4, "lost too", 0);
    show("msgrcv mtext unwritable", msgrcv(id, edge, 10, 0, IPC_NOWAIT));
    show_stat("KEY: both are gone", id, KEY, getpid(), getpid());
    show_send(id, 4, "copied", 0);
    show("msgrcv MSG_COPY msgp NULL", msgrcv(id, NULL, 10, 0, MSG_COPY | IPC_NOWAIT));
    show_receive(id, 10, 0, IPC_NOWAIT, " IPC_NOWAIT (the copy's original)");
    munmap(two, (size_t)page * 2);

    show("msgctl IPC_STAT buf NULL", msgctl(id, IPC_STAT, NULL));
    show("msgctl IPC_SET buf NULL", msgctl(id, IPC_SET, NULL));
    show("msgctl IPC_STAT no such msqid, buf NULL", msgctl(NO_SUCH_ID, IPC_STAT, NULL));
    show("msgctl IPC_SET no such msqid, buf NULL", msgctl(NO_SUCH_ID, IPC_SET, NULL));
    show("msgctl IPC_INFO buf NULL", msgctl(0, IPC_INFO, NULL));
    show("msgctl MSG_INFO buf (void*)8", msgctl(0, MSG_INFO, (struct msqid_ds*)8));
    show("msgctl MSG_STAT KEY's index, buf NULL", msgctl(index_of(id), MSG_STAT, NULL));
    show("msgctl MSG_STAT an unused index, buf NULL", msgctl(30000, MSG_STAT, NULL));
}

static void part_capacity(int id) {
    puts("== capacity: bytes and messages (msg_fits_inqueue)");
    show_set(id, 0640, 64);
    show_send(id, 1, "forty bytes of text, forty bytes of text", IPC_NOWAIT);
    show_send(id, 2, "twenty bytes of text", IPC_NOWAIT);
    show_send(id, 3, "ten bytes.", IPC_NOWAIT);
    show_send(id, 3, "four", IPC_NOWAIT);
    show_stat("KEY full at 64 bytes", id, KEY, getpid(), getpid());
    show_receive(id, 100, 2, IPC_NOWAIT, " IPC_NOWAIT");
    show_send(id, 3, "ten bytes.", IPC_NOWAIT);
    drain(id);
    show_set(id, 0640, 3);
    show_send(id, 1, "", IPC_NOWAIT);
    show_send(id, 1, "", IPC_NOWAIT);
    show_send(id, 1, "", IPC_NOWAIT);
    show_send(id, 1, "", IPC_NOWAIT);
    show_stat("KEY full at 3 messages", id, KEY, getpid(), getpid());
    puts("== EINTR, with SA_RESTART handlers");
    alarm_in(200);
    show_send(id, 1, "", 0);
    drain(id);
    alarm_in(200);
    show_receive(id, 100, 0, 0, " (empty)");
    show_set(id, 0640, 16384);
}

static void receive_three(int id) {
    show_receive(id, 100, 2, 0, " (child)");
    show_receive(id, 100, 0, 0, " (child)");
    show_receive(id, 100, 0, 0, " (child)");
    show_receive(id, 100, 0, IPC_NOWAIT, " IPC_NOWAIT (child)");
}

static void block_receiving(int id) {
    show_receive(id, 100, 9, 0, " (child, until removed)");
}

static void block_sending(int id) {
    show_send(id, 1, "no room", 0);
}

static void remove_after_a_while(int id) {
    pause_ms(500);
    meanwhile_result = msgctl(id, IPC_RMID, NULL);
    meanwhile_errno = errno;
    snprintf(meanwhile_what, sizeof meanwhile_what, "msgctl IPC_RMID (parent, meanwhile)");
}

static void part_fork(int id) {
    puts("== fork: the child receives what the parent sent");
    show_send(id, 1, "for the child 1", 0);
    show_send(id, 2, "for the child 2", 0);
    show_send(id, 3, "for the child 3", 0);
    in_child("receive three", receive_three, id, NULL);
    show_stat("KEY after the child", id, KEY, getpid(), -1);
}

struct waiter {
    int id;
    long type;
    long result;
    int error;
    struct message m;
};

static void* wait_for_type(void* arg) {
    struct waiter* w = arg;
    w->result = msgrcv(w->id, &w->m, 100, w->type, 0);
    w->error = errno;
    return NULL;
}

static void part_threads(int id) {
    puts("== eight threads blocked on one queue at once");
    enum { threads = 8 };
    struct waiter w[threads];
    pthread_t t[threads];
    for (int i = 0; i < threads; ++i) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = id;
        w[i].type = i + 1;
        pthread_create(&t[i], NULL, wait_for_type, &w[i]);
    }
    pause_ms(500);
    for (int i = threads; i >= 1; --i) {
        char text[32];
        snprintf(text, sizeof text, "to thread %d", i);
        show_send(id, i, text, 0);
    }
    for (int i = 0; i < threads; ++i) {
        pthread_join(t[i], NULL);
        char what[64];
        snprintf(what, sizeof what, "thread %d: msgrcv type %ld", i + 1, w[i].type);
        errno = w[i].error;
        show_received(what, w[i].result, &w[i].m);
    }
}

static void child_while_parent_blocked(int id) {
    show_send(id, 8, "from the child", 0);
    show_receive(id, 100, 8, 0, " (child)");
    show_receive(id, 100, 0, MSG_COPY | IPC_NOWAIT, " MSG_COPY|IPC_NOWAIT (child)");
}

static void part_fork_while_blocked(int id) {
    puts("== fork while another thread waits in msgrcv");
    struct waiter w;
    memset(&w, 0, sizeof w);
    w.id = id;
    w.type = 7;
    pthread_t t;
    pthread_create(&t, NULL, wait_for_type, &w);
    pause_ms(300);
    in_child("while a thread waits", child_while_parent_blocked, id, NULL);
    show_send(id, 7, "wake up", 0);
    pthread_join(t, NULL);
    errno = w.error;
    show_received("the waiting thread: msgrcv type 7", w.result, &w.m);
    show_receive(id, 100, 0, IPC_NOWAIT, " IPC_NOWAIT");
}

static void part_syscall(void) {
    puts("== the same calls through syscall()");
    int id = (int)syscall(SYS_msgget, KEY3, IPC_CREAT | 0600);
    show_id("syscall SYS_msgget KEY3 IPC_CREAT|0600", id);
    struct message m;
    m.mtype = 6;
    memcpy(m.mtext, "by syscall", 10);
    show("syscall SYS_msgsnd", syscall(SYS_msgsnd, id, &m, 10, 0));
    memset(&m, 0, sizeof m);
    show_received("syscall SYS_msgrcv", syscall(SYS_msgrcv, id, &m, 100, 0, 0), &m);
    show("syscall SYS_msgrcv IPC_NOWAIT", syscall(SYS_msgrcv, id, &m, 100, 0, IPC_NOWAIT));
    struct msqid_ds ds;
    show("syscall SYS_msgctl IPC_STAT", syscall(SYS_msgctl, id, IPC_STAT, &ds));
    /* IPC_64 (0x100): parsed out of cmd only where the kernel has the old ipc() multiplexer. */
    show("msgctl IPC_STAT|0x100", msgctl(id, IPC_STAT | 0x100, &ds));
    show("syscall SYS_msgctl IPC_STAT|0x100", syscall(SYS_msgctl, id, IPC_STAT | 0x100, &ds));
    show("syscall SYS_msgctl IPC_RMID", syscall(SYS_msgctl, id, IPC_RMID, NULL));
    show("syscall SYS_msgsnd after IPC_RMID", syscall(SYS_msgsnd, id, &m, 1, 0));
    show("syscall SYS_getpid is the pid", syscall(SYS_getpid) == getpid());
}

static void as_nobody(int id) {
    if (setgid(65534) < 0 || setuid(65534) < 0) {
        line("setuid(nobody)", "failed");
        return;
    }
    struct message m;
    show_id("msgget KEY 0600 (nobody)", msgget(KEY, 0600));
    show_yes("msgget KEY 0 (nobody): the same id", msgget(KEY, 0) == id);
    show("msgsnd (nobody)", send_text(id, 1, "x", IPC_NOWAIT));
    show("msgrcv (nobody)", msgrcv(id, &m, 10, 0, IPC_NOWAIT));
    struct msqid_ds ds;
    show("msgctl IPC_STAT (nobody)", msgctl(id, IPC_STAT, &ds));
    show("msgctl IPC_RMID (nobody)", msgctl(id, IPC_RMID, NULL));
    show_id("msgget KEY2 IPC_CREAT|0622 (nobody)", msgget(KEY2, IPC_CREAT | 0622));
}

static void part_permissions(int id) {
    puts("== another user");
    if (geteuid() != 0) {
        line("(needs root to become nobody)", "skipped");
        return;
    }
    in_child("as nobody", as_nobody, id, NULL);
    int other = show_id("msgget KEY2 0 (root)", msgget(KEY2, 0));
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    show("msgctl IPC_STAT KEY2", msgctl(other, IPC_STAT, &ds));
    show_yes("KEY2 belongs to nobody, mode 0622", ds.msg_perm.uid == 65534 &&
                                                      ds.msg_perm.cuid == 65534 &&
                                                      (ds.msg_perm.mode & 0777) == 0622);
    show("msgctl IPC_RMID KEY2 (root)", msgctl(other, IPC_RMID, NULL));
}

/* The ids of each call, not those of the process's first call: root's calls, then the same
   calls after seteuid(nobody) (refused: EACCES, IPC_SET and IPC_RMID EPERM), then after
   seteuid(0) (allowed again). */
static void seteuid_between_calls(int id) {
    struct message m;
    struct msqid_ds ds;
    show("msgsnd (root)", send_text(id, 1, "a", IPC_NOWAIT));
    show("msgsnd (root)", send_text(id, 1, "b", IPC_NOWAIT));
    show_received("msgrcv 0 (root)", msgrcv(id, &m, 10, 0, IPC_NOWAIT), &m);
    show("msgctl IPC_STAT (root)", msgctl(id, IPC_STAT, &ds));
    if (setegid(65534) < 0 || seteuid(65534) < 0) {
        line("seteuid(nobody)", "failed");
        return;
    }
    show("msgsnd (euid nobody)", send_text(id, 1, "c", IPC_NOWAIT));
    show("msgrcv 0 (euid nobody)", msgrcv(id, &m, 10, 0, IPC_NOWAIT));
    show("msgrcv 1 (euid nobody)", msgrcv(id, &m, 10, 1, IPC_NOWAIT));
    struct msqid_ds seen;
    show("msgctl IPC_STAT (euid nobody)", msgctl(id, IPC_STAT, &seen));
    show("msgctl IPC_SET (euid nobody)", msgctl(id, IPC_SET, &ds));
    show("msgctl IPC_RMID (euid nobody)", msgctl(id, IPC_RMID, NULL));
    show("msgget KEY 0600 (euid nobody)", msgget(KEY, 0600) >= 0 ? 0 : -1);
    if (seteuid(0) < 0 || setegid(0) < 0) {
        line("seteuid(0)", "failed");
        return;
    }
    show("msgsnd (root again)", send_text(id, 1, "d", IPC_NOWAIT));
    show_received("msgrcv 0 (root again)", msgrcv(id, &m, 10, 0, IPC_NOWAIT), &m);
    show_received("msgrcv 0 (root again)", msgrcv(id, &m, 10, 0, IPC_NOWAIT), &m);
    show("msgctl IPC_SET (root again)", msgctl(id, IPC_SET, &ds));
    show("msgget KEY 0600 (root again)", msgget(KEY, 0600) == id ? 0 : -1);
}

static void part_seteuid(int id) {
    puts("== seteuid between calls");
    if (geteuid() != 0) {
        line("(needs root to seteuid to nobody)", "skipped");
        return;
    }
    drain(id);
    in_child("seteuid", seteuid_between_calls, id, NULL);
    drain(id);
}

/* IPC_INFO or MSG_INFO: the highest index it returns, and the fields. */
static void show_info(const char* what, int cmd) {
    struct msginfo info;
    memset(&info, 0, sizeof info);
    int r = msgctl(0, cmd, (struct msqid_ds*)&info);
    show(what, r);
    if (r < 0)
        return;
    char text[200];
    snprintf(text, sizeof text, "msgmni %d msgmax %d msgmnb %d msgssz %d msgseg %u", info.msgmni,
             info.msgmax, info.msgmnb, info.msgssz, (unsigned)info.msgseg);
    line("  limits", text);
    snprintf(text, sizeof text, "msgpool %d msgmap %d msgtql %d", info.msgpool, info.msgmap,
             info.msgtql);
    line(cmd == MSG_INFO ? "  queues, messages, bytes" : "  MSGPOOL, MSGMAP, MSGTQL", text);
}

/* MSG_STAT or MSG_STAT_ANY on an index: the id it returns, and fields of the queue. */
static int show_stat_index(const char* name, int index, int cmd, key_t key) {
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    char what[96];
    snprintf(what, sizeof what, "msgctl %s index %d%s",
             cmd == MSG_STAT ? "MSG_STAT" : "MSG_STAT_ANY", index, name);
    int r = msgctl(index, cmd, &ds);
    show(what, r);
    if (r < 0)
        return r;
    char text[160];
    snprintf(text, sizeof text, "key %s mode %03o qnum %lu cbytes %lu qbytes %lu",
             ds.msg_perm.__key == key ? "=" : "!=", (unsigned)(ds.msg_perm.mode & 0777),
             (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
             (unsigned long)ds.msg_qbytes);
    line("  fields", text);
    return r;
}

static int info_queue; /* the 0600 queue the child looks at */

static void stat_as_nobody(int id) {
    (void)id;
    if (setgid(65534) < 0 || setuid(65534) < 0) {
        line("setuid(nobody)", "failed");
        return;
    }
    show_stat_index(" (nobody, mode 0600)", index_of(info_queue), MSG_STAT, KEY2);
    show_yes("MSG_STAT_ANY (nobody): the id msgget gave",
             show_stat_index(" (nobody)", index_of(info_queue), MSG_STAT_ANY, KEY2) == info_queue);
}

static void part_info(int id) {
    puts("== IPC_INFO, MSG_INFO, MSG_STAT, MSG_STAT_ANY");
    show_info("msgctl IPC_INFO (KEY's queue only)", IPC_INFO);
    show_info("msgctl MSG_INFO", MSG_INFO);
    int a = show_id("msgget KEY2 IPC_CREAT|0600", msgget(KEY2, IPC_CREAT | 0600));
    int b = show_id("msgget IPC_PRIVATE 0644", msgget(IPC_PRIVATE, 0644));
    int c = show_id("msgget IPC_PRIVATE 0600", msgget(IPC_PRIVATE, 0600));
    show_send(a, 1, "one", 0);
    show_send(a, 2, "three", 0);
    show_send(b, 3, "b", 0);
    show_info("msgctl MSG_INFO (four queues)", MSG_INFO);
    show_info("msgctl IPC_INFO", IPC_INFO);
    show_yes("MSG_STAT: the id msgget gave", show_stat_index("", index_of(a), MSG_STAT, KEY2) == a);
    show_yes("MSG_STAT on the index + 5 * 32768: the same id",
             show_stat_index(" + 5 * 32768", index_of(a) + 5 * 32768, MSG_STAT, KEY2) == a);
    show_yes("MSG_STAT_ANY: the id msgget gave",
             show_stat_index("", index_of(b), MSG_STAT_ANY, IPC_PRIVATE) == b);
    show_yes("MSG_STAT on KEY's index: KEY's id",
             show_stat_index(" (KEY)", index_of(id), MSG_STAT, KEY) == id);
    show_stat_index(" (unused)", 30000, MSG_STAT, IPC_PRIVATE);
    show_stat_index(" (unused)", 30000, MSG_STAT_ANY, IPC_PRIVATE);
    show_stat_index("", -1, MSG_STAT, IPC_PRIVATE);
    show("msgctl IPC_INFO msqid -1", msgctl(-1, IPC_INFO, NULL));
    if (geteuid() == 0) {
        info_queue = a;
        in_child("MSG_STAT as nobody", stat_as_nobody, a, NULL);
    } else {
        line("(needs root to become nobody)", "skipped");
    }
    show("msgctl IPC_RMID the last one made", msgctl(c, IPC_RMID, NULL));
    show_info("msgctl IPC_INFO (its index was the highest)", IPC_INFO);
    show("msgctl IPC_RMID the private 0644", msgctl(b, IPC_RMID, NULL));
    show_stat_index(" (removed)", index_of(b), MSG_STAT, IPC_PRIVATE);
    drain(a);
    show_info("msgctl MSG_INFO (KEY2 drained)", MSG_INFO);
    show("msgctl IPC_RMID KEY2", msgctl(a, IPC_RMID, NULL));
    show_info("msgctl MSG_INFO (KEY's queue only)", MSG_INFO);
    int again = show_id("msgget IPC_PRIVATE 0600 (again)", msgget(IPC_PRIVATE, 0600));
    show_yes("an index after the last one given", index_of(again) > index_of(c));
    show_info("msgctl IPC_INFO", IPC_INFO);
    show("msgctl IPC_RMID it", msgctl(again, IPC_RMID, NULL));
}

static void part_removal(int id) {
    puts("== removal: EIDRM to those waiting, EINVAL after");
    in_child("blocked receiver", block_receiving, id, remove_after_a_while);
    id = show_id("msgget KEY IPC_CREAT|0600 (again)", msgget(KEY, IPC_CREAT | 0600));
    show_set(id, 0600, 3);
    show_send(id, 1, "a", 0);
    show_send(id, 1, "b", 0);
    show_send(id, 1, "c", 0);
    in_child("blocked sender", block_sending, id, remove_after_a_while);
    struct message m;
    struct msqid_ds ds;
    show("msgsnd after IPC_RMID", send_text(id, 1, "x", IPC_NOWAIT));
    show("msgrcv after IPC_RMID", msgrcv(id, &m, 10, 0, IPC_NOWAIT));
    show("msgctl IPC_STAT after IPC_RMID", msgctl(id, IPC_STAT, &ds));
    show("msgctl IPC_RMID after IPC_RMID", msgctl(id, IPC_RMID, NULL));
    show_id("msgget KEY 0 after IPC_RMID", msgget(KEY, 0));
    int again = show_id("msgget KEY IPC_CREAT|0600 after IPC_RMID", msgget(KEY, IPC_CREAT | 0600));
    show_yes("a new id", again != id);
    show("msgsnd on the old id", send_text(id, 1, "x", IPC_NOWAIT));
    show("msgctl IPC_RMID the new one", msgctl(again, IPC_RMID, NULL));
}

static int only_msgget(int argc, char** argv) {
    exact_ids = 0; /* (run on the host's namespace, or split between two numberings) */
    for (int i = 2; i < argc; ++i) {
        key_t key = (key_t)strtoul(argv[i], NULL, 0);
        char what[64];
        snprintf(what, sizeof what, "msgget %s IPC_CREAT|0600", argv[i]);
        show_id(what, msgget(key, IPC_CREAT | 0600));
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "msgget") == 0)
        return only_msgget(argc, argv);
    int bad_pointers = 1, info = 1;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--no-bad-pointers") == 0) {
            bad_pointers = 0;
        } else if (strcmp(argv[i], "--keys-split") == 0) {
            exact_ids = 0;
            info = 0;
        } else {
            fprintf(stderr, "sysv_script: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    int id = part_create();
    if (id < 0)
        return 1;
    part_selectors(id);
    part_sizes(id);
    part_bad_arguments(id);
    if (bad_pointers)
        part_bad_pointers(id);
    part_capacity(id);
    part_fork(id);
    part_threads(id);
    part_fork_while_blocked(id);
    part_syscall();
    part_permissions(id);
    part_seteuid(id);
    if (info)
        part_info(id);
    part_removal(id);
    puts("== done");
    return 0;
}

/* karaoke-sysv: the founding story's karaoke server as it was first written, on System V
 * message queues and nothing else: <sys/msg.h>, no seqmq. Singers msgsnd their requests; the
 * player msgrcv's them one at a time, in order. The list still waiting is what SysV cannot
 * show: msgrcv takes what it reads. Run both under libseqmq-sysv.so (LD_PRELOAD, see demo.sh)
 * and the queue is seqmqd's "0x4b415241" (the key as ipcs prints it): `seqmq peek`,
 * `seqmq watch 0x4b415241` show the waiting list from outside, and nothing here changes.
 *
 *   karaoke-sysv serve [--count N] [--length SECONDS]    play N songs (default: until SIGTERM)
 *   karaoke-sysv request SINGER SONG                      ask for a song
 *   karaoke-sysv remove                                   IPC_RMID the queue
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>

#define KARAOKE_KEY ((key_t)0x4b415241) /* "KARA" */
#define REQUEST 1L                      /* the mtype of a song request */

struct request {
    long mtype;
    char mtext[256]; /* "SINGER: SONG" */
};

static volatile sig_atomic_t stop_requested = 0;

static void on_stop(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int queue(int create) {
    int id = msgget(KARAOKE_KEY, create ? IPC_CREAT | 0666 : 0);
    if (id < 0)
        fprintf(stderr, "karaoke-sysv: msgget(0x%08x): %s\n", (unsigned)KARAOKE_KEY,
                strerror(errno));
    return id;
}

static int serve(int count, double length) {
    int id = queue(1);
    if (id < 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: msgrcv ends with EINTR either way */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("player: waiting for songs on key 0x%08x (msqid %d)\n", (unsigned)KARAOKE_KEY, id);
    fflush(stdout);
    for (int played = 0; (count == 0 || played < count) && !stop_requested; ++played) {
        struct request r;
        ssize_t n = msgrcv(id, &r, sizeof r.mtext - 1, REQUEST, 0);
        if (n < 0) {
            if (errno == EINTR)
                break;
            fprintf(stderr, "karaoke-sysv: msgrcv: %s\n", strerror(errno));
            return 1;
        }
        r.mtext[n] = '\0';
        char* colon = strstr(r.mtext, ": ");
        const char* singer = colon ? r.mtext : "someone";
        const char* song = colon ? colon + 2 : r.mtext;
        if (colon)
            *colon = '\0';
        printf("now playing \"%s\" for %s\n", song, singer);
        fflush(stdout);
        struct timespec t = {(time_t)length, (long)((length - (double)(time_t)length) * 1e9)};
        while (nanosleep(&t, &t) < 0 && errno == EINTR && !stop_requested)
            ;
    }
    printf("player: done\n");
    return 0;
}

static int request(const char* singer, const char* song) {
    int id = queue(1);
    if (id < 0)
        return 1;
    struct request r;
    r.mtype = REQUEST;
    int n = snprintf(r.mtext, sizeof r.mtext, "%s: %s", singer, song);
    if (n < 0 || (size_t)n >= sizeof r.mtext) {
        fprintf(stderr, "karaoke-sysv: the request is too long\n");
        return 2;
    }
    if (msgsnd(id, &r, (size_t)n, 0) < 0) {
        fprintf(stderr, "karaoke-sysv: msgsnd: %s\n", strerror(errno));
        return 1;
    }
    printf("%s requested \"%s\"\n", singer, song);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: karaoke-sysv serve [--count N] [--length SECONDS]\n"
                    "       karaoke-sysv request SINGER SONG\n"
                    "       karaoke-sysv remove\n");
    return 2;
}

int main(int argc, char** argv) {
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        int count = 0;
        double length = 0.3;
        for (int i = 2; i < argc; ++i) {
            if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
                count = atoi(argv[++i]);
            else if (strcmp(argv[i], "--length") == 0 && i + 1 < argc)
                length = atof(argv[++i]);
            else
                return usage();
        }
        return serve(count, length);
    }
    if (argc == 4 && strcmp(argv[1], "request") == 0)
        return request(argv[2], argv[3]);
    if (argc == 2 && strcmp(argv[1], "remove") == 0) {
        int id = queue(0);
        if (id < 0 || msgctl(id, IPC_RMID, NULL) < 0)
            return 1;
        return 0;
    }
    return usage();
}

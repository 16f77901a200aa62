/* The C API, line by line as with msgsnd/msgrcv: a mailbox and a sender in one process. */
#include <seqmq/seqmq.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct song_msg {
    long mtype;
    char mtext[64];
};

int main(void) {
    char address[64];
    snprintf(address, sizeof address, "unix:@seqmq-c-quickstart.%d", (int)getpid());
    seqmq_t* box = seqmq_mailbox_open(address, NULL);
    if (!box) {
        fprintf(stderr, "seqmq_mailbox_open %s: %s\n", address, strerror(errno));
        return 1;
    }
    seqmq_t* to = seqmq_connect(address, NULL);
    if (!to) {
        fprintf(stderr, "seqmq_connect %s: %s\n", address, strerror(errno));
        return 1;
    }
    const char* songs[] = {"Africa", "Take On Me", "Hallelujah"};
    for (long i = 0; i < 3; ++i) {
        struct song_msg m = {.mtype = i + 1};
        strcpy(m.mtext, songs[i]);
        if (seqmq_msgsnd(to, &m, strlen(m.mtext) + 1, 0) < 0) {
            perror("seqmq_msgsnd");
            return 1;
        }
    }
    struct song_msg m;
    /* MSG_COPY peeks at a position without taking, as on Linux. */
    ssize_t n = seqmq_msgrcv(box, &m, sizeof m.mtext, 2, SEQMQ_MSG_COPY | IPC_NOWAIT);
    printf("peek at position 2: type %ld \"%s\" (%zd bytes)\n", m.mtype, m.mtext, n);
    n = seqmq_msgrcv(box, &m, sizeof m.mtext, 2, IPC_NOWAIT);
    printf("receive type 2:     type %ld \"%s\"\n", m.mtype, m.mtext);
    n = seqmq_msgrcv(box, &m, 4, 0, IPC_NOWAIT);
    printf("receive into 4 bytes: %zd, errno %s (message stays)\n", n, strerror(errno));
    n = seqmq_msgrcv(box, &m, 4, 0, IPC_NOWAIT | MSG_NOERROR);
    printf("with MSG_NOERROR:   type %ld, %zd bytes \"%.4s\"\n", m.mtype, n, m.mtext);
    n = seqmq_msgrcv(box, &m, sizeof m.mtext, 0, IPC_NOWAIT);
    printf("receive type 0:     type %ld \"%s\"\n", m.mtype, m.mtext);
    n = seqmq_msgrcv(box, &m, sizeof m.mtext, 0, IPC_NOWAIT);
    printf("empty queue:        %zd, errno %s\n", n, strerror(errno));
    seqmq_close(to);
    seqmq_close(box);
    return 0;
}

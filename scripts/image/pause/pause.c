/*
 * The pod sandbox's process (what Kubernetes calls the pause container): it holds the pod's namespaces
 * open while the pod's containers come and go, reaps the orphans re-parented to it as the pod's PID 1,
 * and exits when the runtime stops the sandbox. Built static, so its image holds this one file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int handle(int sig, void (*handler)(int)) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = sig == SIGCHLD ? SA_NOCLDSTOP | SA_RESTART : SA_RESTART;
  return sigaction(sig, &action, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("keylease-pause 3.2");
    return 0;
  }
  if (getpid() != 1) fputs("pause: not PID 1, so orphans of the pod are not reaped here\n", stderr);
  if (handle(SIGINT, on_stop) != 0 || handle(SIGTERM, on_stop) != 0 || handle(SIGCHLD, on_child) != 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}

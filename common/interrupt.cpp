// Signal flag behind poet::interrupted().
#include "common/interrupt.h"

#include <csignal>

#include "common/error.h"

namespace poet {

namespace {
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int signal_number) { g_signal = signal_number; }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) sigaction(signal_number, &action, nullptr);
}

bool interrupted() { return g_signal != 0; }

int interrupt_signal() { return g_signal; }

void throw_if_interrupted() {
  if (interrupted()) throw Interrupted();
}

}  // namespace poet
